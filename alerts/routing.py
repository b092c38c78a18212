"""Routing rules: which team owns an alert, which escalation policy pages, at what severity, and
how alerts group into incidents.

The policy is `evaluate_routes`, a pure function of plain data (RouteSpec, the field dict of
alerts/matchers.py): no database access, tested in milliseconds. Below it, the database side:
`routes_for_integration` loads and caches the specs (the batch path does not query per alert),
`route_alert` applies them, the services `route_create/route_update/route_delete` validate and
write, and `routing_test` is the tester shared by the API and the admin.

Order: the integration's own routes by position, then the global routes by position, then the
integration's default route. The first matching route decides, unless it has
`continue_matching`: then it contributes and evaluation goes on. Merge rule: each setting
(owner team, escalation policy, severity override, group_by, group window, group wait) comes
from the *first* matching route that sets it; later routes only fill what is still unset. So
order is priority throughout: an integration's route outranks a global one, and the default
route, reached only when no route stopped evaluation, fills in what the others left.
"""

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from .matchers import CompiledMatchers, MatcherError, alert_fields, compile_matchers, field_error

DEFAULT_GROUP_BY = ("service", "name")
DEFAULT_GROUP_WINDOW_MINUTES = 0
DEFAULT_GROUP_WAIT_SECONDS = 30
SEVERITY_OVERRIDES = ("SEV1", "SEV2", "SEV3", "SEV4")
DEFAULT_ROUTE_REASON = "default route: takes every alert that reaches it"

# ---------------------------------------------------------------------------------------------
# The policy (pure)


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A route as plain data. Unset settings: team_id None with use_service_owner False,
    escalation_policy_id None, severity_override "", group_by (), group_* None."""

    id: int | None
    name: str
    integration_id: int | None = None
    position: int = 0
    is_default: bool = False
    matchers: CompiledMatchers = field(default_factory=lambda: compile_matchers([]))
    team_id: int | None = None
    use_service_owner: bool = False
    escalation_policy_id: int | None = None
    severity_override: str = ""
    continue_matching: bool = False
    group_by: tuple[str, ...] = ()
    group_window_minutes: int | None = None
    group_wait_seconds: int | None = None
    enabled: bool = True
    # Derived once: the sort key, and what the loop asks of every route for every alert.
    rank: tuple = field(init=False, repr=False, compare=False)
    is_integration_default: bool = field(init=False, repr=False, compare=False)
    match: Callable[[Mapping[str, Any]], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.matchers, CompiledMatchers):
            object.__setattr__(self, "matchers", compile_matchers(self.matchers))
        object.__setattr__(self, "group_by", tuple(self.group_by))
        # 0: the integration's own routes, 1: global ones, 2: the integration's default.
        tier = 1 if self.integration_id is None else 2 if self.is_default else 0
        object.__setattr__(self, "rank", (tier, self.position, self.id or 0))
        object.__setattr__(self, "is_integration_default", tier == 2)
        object.__setattr__(self, "match", self.matchers.matches)


@dataclass(frozen=True, slots=True)
class RouteTrial:
    """One route tried for one alert: matched or not, and why."""

    route_id: int | None
    name: str
    matched: bool
    reasons: tuple[str, ...] = ()
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route_id,
            "name": self.name,
            "matched": self.matched,
            "note": self.note,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """What the routes decided. team_id None (and use_service_owner False): the integration's
    team. use_service_owner: the catalog owner of the alert's service, else team_id, else the
    integration's team. `route_id` is the route that stopped evaluation (else the last one that
    matched); `set_by` names the route each setting came from. `reasons` has one RouteTrial per
    route tried when evaluated with explain=True, else one per matched route."""

    matched: tuple[tuple[int | None, str], ...] = ()
    route_id: int | None = None
    team_id: int | None = None
    use_service_owner: bool = False
    escalation_policy_id: int | None = None
    severity_override: str = ""
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    group_window_minutes: int = DEFAULT_GROUP_WINDOW_MINUTES
    group_wait_seconds: int = DEFAULT_GROUP_WAIT_SECONDS
    set_by: Mapping[str, int | None] = field(default_factory=dict)
    reasons: tuple[RouteTrial, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": [{"id": route_id, "name": name} for route_id, name in self.matched],
            "route": self.route_id,
            "team_id": self.team_id,
            "use_service_owner": self.use_service_owner,
            "escalation_policy": self.escalation_policy_id,
            "severity_override": self.severity_override,
            "group_by": list(self.group_by),
            "group_window_minutes": self.group_window_minutes,
            "group_wait_seconds": self.group_wait_seconds,
            "set_by": dict(self.set_by),
            "reasons": [trial.as_dict() for trial in self.reasons],
        }


_RANK = attrgetter("rank")


class OrderedRoutes(tuple):
    """Routes as order_routes returns them for `integration_id`: evaluate_routes takes them as
    they are, without filtering and sorting again for every alert."""

    integration_id: int | None

    def __new__(cls, routes: Iterable[RouteSpec], integration_id: int | None):
        ordered = super().__new__(cls, routes)
        ordered.integration_id = integration_id
        return ordered


def order_routes(routes: Iterable[RouteSpec], integration_id: int | None) -> OrderedRoutes:
    """The enabled routes that apply to the integration, in evaluation order."""
    if isinstance(routes, OrderedRoutes) and routes.integration_id == integration_id:
        return routes
    applicable = [
        route
        for route in routes
        if route.enabled and route.integration_id in (None, integration_id)
    ]
    return OrderedRoutes(sorted(applicable, key=_RANK), integration_id)


def evaluate_routes(
    routes: Sequence[RouteSpec], fields: Mapping[str, Any], *, explain: bool = False
) -> RouteDecision:
    """Route one alert (its field dict, see matchers.alert_fields). `routes` may hold any
    routes in any order: those of other integrations and disabled ones are left out. With
    explain=True every route tried gets its reasons (the tester); the batch path leaves it off
    and pays for reasons only on the routes that matched."""
    integration_id = fields.get("integration")
    trials: list[RouteTrial] = []
    matched: list[tuple[int | None, str]] = []
    settings: dict[str, Any] = {}
    set_by: dict[str, int | None] = {}
    stopped_at: RouteSpec | None = None
    default_seen = False
    for route in order_routes(routes, integration_id):
        if route.is_integration_default:
            if default_seen:
                continue  # two defaults cannot be saved; if given, the first one counts
            default_seen = True
            ok, reasons = True, [DEFAULT_ROUTE_REASON]
        elif explain:
            ok, reasons = route.matchers.explain(fields)
        else:
            ok = route.match(fields)
            if not ok:
                continue
            reasons = route.matchers.explain(fields)[1]
        if not ok:
            trials.append(RouteTrial(route.id, route.name, False, tuple(reasons)))
            continue
        matched.append((route.id, route.name))
        _merge(settings, set_by, route)
        stops = not route.continue_matching or route.is_integration_default
        note = "matched: decides" if stops else "matched: continues to later routes"
        trials.append(RouteTrial(route.id, route.name, True, tuple(reasons), note))
        if stops:
            stopped_at = route
            break
    deciding = stopped_at.id if stopped_at else (matched[-1][0] if matched else None)
    return RouteDecision(
        matched=tuple(matched),
        route_id=deciding,
        team_id=settings.get("team_id"),
        use_service_owner=settings.get("use_service_owner", False),
        escalation_policy_id=settings.get("escalation_policy_id"),
        severity_override=settings.get("severity_override", ""),
        group_by=settings.get("group_by", DEFAULT_GROUP_BY),
        group_window_minutes=settings.get("group_window_minutes", DEFAULT_GROUP_WINDOW_MINUTES),
        group_wait_seconds=settings.get("group_wait_seconds", DEFAULT_GROUP_WAIT_SECONDS),
        set_by=set_by,
        reasons=tuple(trials),
    )


def _merge(settings: dict[str, Any], set_by: dict[str, int | None], route: RouteSpec) -> None:
    """First set wins: a setting already taken from an earlier route is kept."""

    def take(name: str, value: Any) -> None:
        if name not in settings:
            settings[name] = value
            set_by[name] = route.id

    # The owner is one setting: a team, the service's owner, or both (the team as fallback).
    if route.team_id is not None or route.use_service_owner:
        if "team_id" not in settings:
            settings["use_service_owner"] = route.use_service_owner
        take("team_id", route.team_id)
    if route.escalation_policy_id is not None:
        take("escalation_policy_id", route.escalation_policy_id)
    if route.severity_override:
        take("severity_override", route.severity_override)
    if route.group_by:
        take("group_by", route.group_by)
    if route.group_window_minutes is not None:
        take("group_window_minutes", route.group_window_minutes)
    if route.group_wait_seconds is not None:
        take("group_wait_seconds", route.group_wait_seconds)


# ---------------------------------------------------------------------------------------------
# Loading and applying (database)

CACHE_CHECK_SECONDS = 1.0


@dataclass
class _Cache:
    version: tuple | None = None
    checked_at: float = float("-inf")
    specs: tuple[RouteSpec, ...] = ()
    by_integration: dict[int | None, OrderedRoutes] = field(default_factory=dict)


_cache = _Cache()
_cache_lock = threading.Lock()


def route_spec_from(route) -> RouteSpec:
    """A Route row as a spec. A stored list that no longer compiles matches nothing (and says
    why in the tester) rather than stopping the batch."""
    try:
        compiled = compile_matchers(route.matchers)
    except MatcherError as exc:
        compiled = CompiledMatchers.invalid(str(exc))
    return RouteSpec(
        id=route.pk,
        name=route.name,
        integration_id=route.integration_id,
        position=route.position,
        is_default=route.is_default,
        matchers=compiled,
        team_id=route.team_id,
        use_service_owner=route.use_service_owner,
        escalation_policy_id=route.escalation_policy_id,
        severity_override=route.severity_override,
        continue_matching=route.continue_matching,
        group_by=tuple(route.group_by or ()),
        # The model cannot say "unset" for these two: its defaults mean "not set by this route"
        # (so a later route may set them). See docs/routing.md.
        group_window_minutes=route.group_window_minutes or None,
        group_wait_seconds=(
            None
            if route.group_wait_seconds == DEFAULT_GROUP_WAIT_SECONDS
            else route.group_wait_seconds
        ),
        enabled=route.enabled,
    )


def _routes_version() -> tuple:
    from .models import Route

    # Any save moves the latest updated_at, a delete the count; a deleted escalation policy
    # nulls routes' policy by a bulk UPDATE (no updated_at), which the third count catches.
    summary = Route.objects.aggregate(
        latest=Max("updated_at"), total=Count("id"), policies=Count("escalation_policy")
    )
    return (summary["latest"], summary["total"], summary["policies"])


def route_specs_load() -> tuple[RouteSpec, ...]:
    """All enabled routes, uncached."""
    from .models import Route

    return tuple(route_spec_from(route) for route in Route.objects.filter(enabled=True))


def routes_for_integration(integration_id: int | None) -> OrderedRoutes:
    """The routes that apply to the integration, in evaluation order, from a per-process cache
    that asks the database whether routes changed at most once per CACHE_CHECK_SECONDS."""
    global _cache
    now = time.monotonic()
    cache = _cache
    if now - cache.checked_at >= CACHE_CHECK_SECONDS:
        with _cache_lock:
            cache = _cache
            if now - cache.checked_at >= CACHE_CHECK_SECONDS:
                version = _routes_version()
                if version != cache.version:
                    cache = _Cache(version=version, specs=route_specs_load())
                cache.checked_at = now
                _cache = cache
    ordered = cache.by_integration.get(integration_id)
    if ordered is None:
        ordered = order_routes(cache.specs, integration_id)
        cache.by_integration[integration_id] = ordered
    return ordered


def routes_cache_clear() -> None:
    """Forget the cached routes (services call it on every write; tests between cases)."""
    global _cache
    _cache = _Cache()


def route_alert(*, integration, fields: Mapping[str, Any], explain: bool = False) -> RouteDecision:
    """Route one alert of `integration` (its field dict: matchers.alert_fields)."""
    if fields.get("integration") != integration.pk:
        fields = {**fields, "integration": integration.pk}
    return evaluate_routes(routes_for_integration(integration.pk), fields, explain=explain)


def route_list_for_user(*, user, integration_id: int | None = None):
    """The routes the user may see: global ones and those of integrations they may see. With
    an integration: the routes that apply to it, in evaluation order (own, global, default)."""
    from django.db.models import Case, F, IntegerField, Q, When

    from teams.selectors import team_ids_visible_to

    from .models import Route

    routes = Route.objects.select_related("integration", "team", "escalation_policy")
    team_ids = team_ids_visible_to(user=user)
    if team_ids is not None:
        routes = routes.filter(Q(integration__isnull=True) | Q(integration__team_id__in=team_ids))
    if integration_id is None:
        nulls_first = F("integration_id").asc(nulls_first=True)
        return routes.order_by(nulls_first, "is_default", "position", "id")
    tier = Case(
        When(integration__isnull=True, then=1),
        When(is_default=True, then=2),
        default=0,
        output_field=IntegerField(),
    )
    routes = routes.filter(Q(integration_id=integration_id) | Q(integration__isnull=True))
    return routes.order_by(tier, "position", "id")


# ---------------------------------------------------------------------------------------------
# Services

EDITABLE = (
    "name",
    "integration",
    "position",
    "enabled",
    "is_default",
    "matchers",
    "team",
    "use_service_owner",
    "escalation_policy",
    "severity_override",
    "continue_matching",
    "group_by",
    "group_window_minutes",
    "group_wait_seconds",
)


def route_clean(values: dict[str, Any]) -> dict[str, Any]:
    """Check and normalize a route's values (all of EDITABLE); ValidationError by field. The
    admin form and the services share it."""
    errors: dict[str, str] = {}
    clean = dict(values)
    clean["name"] = str(values.get("name") or "").strip()
    if not clean["name"]:
        errors["name"] = "a route needs a name"
    try:
        clean["matchers"] = compile_matchers(values.get("matchers") or []).as_json()
    except MatcherError as exc:
        errors["matchers"] = str(exc)
    severity = str(values.get("severity_override") or "").strip().upper()
    if severity and severity not in SEVERITY_OVERRIDES:
        errors["severity_override"] = "use SEV1, SEV2, SEV3, SEV4 or leave it empty"
    clean["severity_override"] = severity
    group_by = values.get("group_by") or []
    if not isinstance(group_by, list | tuple):
        errors["group_by"] = 'a list of fields, e.g. ["service", "name"]'
    elif problems := [f"{name!r}: {field_error(name)}" for name in group_by if field_error(name)]:
        errors["group_by"] = "; ".join(problems)
    elif len(set(group_by)) != len(group_by):
        errors["group_by"] = "each field once"
    else:
        clean["group_by"] = list(group_by)
    for name in ("position", "group_window_minutes", "group_wait_seconds"):
        number = values.get(name)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            errors[name] = "a whole number, 0 or more"
    if values.get("is_default"):
        if values.get("integration") is None:
            errors["is_default"] = "a default route belongs to an integration"
        elif clean.get("matchers"):
            errors["matchers"] = (
                "a default route takes every alert the other routes leave: it has no matchers"
            )
    if errors:
        raise ValidationError(errors)
    return clean


def route_defaults_clear(*, integration, keep=None) -> None:
    """Unset the integration's other default routes (call inside the saving transaction)."""
    from .models import Route

    others = Route.objects.select_for_update().filter(integration=integration, is_default=True)
    if keep is not None and keep.pk:
        others = others.exclude(pk=keep.pk)
    others.update(is_default=False, updated_at=timezone.now())


def _route_save(route, values: dict[str, Any]):
    clean = route_clean(values)
    with transaction.atomic():
        if clean.get("is_default"):
            route_defaults_clear(integration=clean["integration"], keep=route)
        for name in EDITABLE:
            setattr(route, name, clean[name])
        route.save()
    routes_cache_clear()
    transaction.on_commit(routes_cache_clear)
    return route


def route_create(
    *,
    name: str,
    integration=None,
    position: int = 0,
    enabled: bool = True,
    is_default: bool = False,
    matchers: Sequence[Mapping] = (),
    team=None,
    use_service_owner: bool = False,
    escalation_policy=None,
    severity_override: str = "",
    continue_matching: bool = False,
    group_by: Sequence[str] = (),
    group_window_minutes: int = DEFAULT_GROUP_WINDOW_MINUTES,
    group_wait_seconds: int = DEFAULT_GROUP_WAIT_SECONDS,
    created_by=None,
):
    """A new route (ValidationError by field). A new default replaces the integration's old
    default in the same transaction."""
    from .models import Route

    values = {
        "name": name,
        "integration": integration,
        "position": position,
        "enabled": enabled,
        "is_default": is_default,
        "matchers": matchers,
        "team": team,
        "use_service_owner": use_service_owner,
        "escalation_policy": escalation_policy,
        "severity_override": severity_override,
        "continue_matching": continue_matching,
        "group_by": group_by,
        "group_window_minutes": group_window_minutes,
        "group_wait_seconds": group_wait_seconds,
    }
    return _route_save(Route(created_by=created_by), values)


def route_update(*, route, **changes):
    """Change the given fields of a route (ValidationError by field)."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise TypeError(f"route_update: unknown fields {', '.join(unknown)}")
    values = {name: getattr(route, name) for name in EDITABLE}
    return _route_save(route, {**values, **changes})


def route_delete(*, route) -> None:
    route.delete()
    routes_cache_clear()
    transaction.on_commit(routes_cache_clear)


# ---------------------------------------------------------------------------------------------
# The tester (API and admin)


class RoutingTestError(ValueError):
    """The sample cannot be routed; the message is the decoder's or the parser's."""


@dataclass(frozen=True)
class RoutingTestResult:
    alerts: list[dict[str, Any]]
    ignored: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"alerts": self.alerts, **({"ignored": self.ignored} if self.ignored else {})}


def routing_test(
    *,
    integration=None,
    body: str | None = None,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
    alert: Mapping[str, Any] | None = None,
) -> RoutingTestResult:
    """Route a sample the way the batch path does, with every route's reasons: a raw body read
    by the integration's parser, or an alert's normalized fields (`alert`; without an
    integration only the global routes apply). Routes are read fresh, so an edit shows at
    once. RoutingTestError when the body or the payload is refused."""
    from .payloads import BodyError, decode_body
    from .sources import IgnoredPayload, PayloadError, SubscriptionConfirmation, source_for_kind

    if alert is not None:
        try:
            items = [alert_fields(alert, integration=integration)]
        except ValueError as exc:
            raise RoutingTestError(str(exc)) from exc
    elif integration is None:
        raise RoutingTestError("name the integration whose parser reads the payload")
    else:
        try:
            payload = decode_body((body or "").encode("utf-8"), content_type)
            parsed = source_for_kind(integration.kind).parse(
                payload, dict(headers or {}), config=integration.config
            )
        except (BodyError, PayloadError) as exc:
            raise RoutingTestError(str(exc)) from exc
        except (IgnoredPayload, SubscriptionConfirmation) as exc:
            return RoutingTestResult([], ignored=str(exc))
        items = [alert_fields(item, integration=integration) for item in parsed]
    routes = order_routes(route_specs_load(), integration.pk if integration else None)
    decisions = [evaluate_routes(routes, fields, explain=True) for fields in items]
    described = _decisions_described(decisions, items, integration)
    return RoutingTestResult(
        [{"fields": f, "decision": d} for f, d in zip(items, described, strict=True)]
    )


def _decisions_described(decisions, items, integration) -> list[dict[str, Any]]:
    """Decisions as dicts with the team (by slug) and the policy named, in three queries."""
    from incidents.escalation_models import EscalationPolicy
    from teams.models import Team

    from .models import Service

    team_ids = {d.team_id for d in decisions if d.team_id is not None}
    teams = Team.objects.in_bulk(team_ids)
    policy_ids = {d.escalation_policy_id for d in decisions if d.escalation_policy_id}
    policies = EscalationPolicy.objects.in_bulk(policy_ids)
    wanted = {f["service"] for d, f in zip(decisions, items, strict=True) if d.use_service_owner}
    owners = {
        service.name: service.owner_team
        for service in Service.objects.filter(
            name__in=wanted, owner_team__isnull=False
        ).select_related("owner_team")
    }
    described = []
    for decision, fields in zip(decisions, items, strict=True):
        data = decision.as_dict()
        del data["team_id"]
        owner = owners.get(fields["service"]) if decision.use_service_owner else None
        if owner is not None:
            team, source = owner, "the service's owner in the catalog"
        elif decision.team_id is not None:
            team, source = teams.get(decision.team_id), "the route"
        else:
            team = integration.team if integration is not None else None
            source = "the integration"
        policy = policies.get(decision.escalation_policy_id)
        data.update(
            team=team.slug if team else None,
            team_name=team.name if team else None,
            team_from=source,
            escalation_policy_name=policy.name if policy else None,
        )
        described.append(data)
    return described
