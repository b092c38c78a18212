"""Silences, maintenance windows and inhibit rules: which alerts page nobody, and why.

The processing path asks, once per alert of a batch (see docs/silences.md):

    silencers = active_silencers(at)                      # once per batch; cached ~1 s
    reason = first_silencer(silencers, fields, at)        # pure; or silencing_for(fields=, at=)
    context = inhibit_context(at)                         # once per batch
    reason = inhibition_for(fields=fields, firing_sources=context, key=(integration_id, fp))

`fields` is `alerts.matchers.alert_fields(...)`. The periodic sweep calls
`silences_handle_ended(now=now)`: alerts silenced by something that is no longer active are
treated as new and routed (`alerts.ingest.alert_route_and_attach`), and those that resolved
meanwhile lose their suppression and stay resolved.

Writes (create, update, delete, expire) go through the services at the end; each records an
admin LogEntry with the acting user, so the admin history shows who did what, from where.
"""

from __future__ import annotations

import logging
import time as monotonic_clock
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from teams.models import Membership
from teams.selectors import user_is_manager

from .matchers import CompiledMatchers, alert_fields, compile_matchers
from .models import Alert, InhibitRule, MaintenanceWindow, Silence
from .suppression_rules import (
    FiringSource,
    InhibitContext,
    InhibitSpec,
    Silencer,
    first_silencer,
    inhibit_context_build,
    inhibit_rule_errors,
    inhibition_for,
    label_name,
    maintenance_window_errors,
    matchers_error,
    silence_errors,
)
from .windows import (
    WindowError,
    WindowSpec,
    ended_between,
    is_active,
    next_occurrences,
    window_errors,
)

log = logging.getLogger(__name__)

# The interface for the processing path, the API, the page and the admin; the pure policy it
# re-exports lives in suppression_rules.py.
__all__ = [
    "FiringSource",
    "InhibitContext",
    "InhibitSpec",
    "Silencer",
    "active_silencers",
    "first_silencer",
    "inhibit_context",
    "inhibit_context_build",
    "inhibit_rule_create",
    "inhibit_rule_delete",
    "inhibit_rule_errors",
    "inhibit_rule_list",
    "inhibit_rule_update",
    "inhibition_for",
    "maintenance_window_create",
    "maintenance_window_delete",
    "maintenance_window_errors",
    "maintenance_window_list",
    "maintenance_window_occurrences",
    "maintenance_window_update",
    "matchers_error",
    "silence_create",
    "silence_errors",
    "silence_expire",
    "silence_list",
    "silence_state",
    "silence_user_may_manage",
    "silencers_cache_clear",
    "silencers_load",
    "silences_handle_ended",
    "silencing_for",
    "window_spec_of",
]

SILENCED = "silenced"
VIAS = frozenset({"web", "api", "admin", "system"})
# active_silencers reuses what it loaded for this long, and loads this much either side of
# `at`, so that one load serves every alert of a batch whatever its own time.
CACHE_SECONDS = 1.0
LOAD_MARGIN = timedelta(minutes=5)
# The end-of-window handling releases at most this many alerts per sweep (each one is routed,
# which may open an incident): a big window's alerts are spread over a few sweeps.
RELEASE_LIMIT = 500


def window_spec_of(window: MaintenanceWindow) -> WindowSpec:
    weekdays = window.weekdays if isinstance(window.weekdays, list) else []
    return WindowSpec(
        time_zone=window.time_zone,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        weekdays=frozenset(weekdays),
        start_time=window.start_time,
        duration_minutes=window.duration_minutes,
    )


# --- loading ------------------------------------------------------------------------------


def _compiled(raw: Any, what: str) -> CompiledMatchers | None:
    # A stored list that does not compile, or is empty, silences nothing: it must not take
    # the batch down, nor silence every alert.
    if error := matchers_error(raw):
        log.error("%s ignored: %s", what, error)
        return None
    return compile_matchers(raw)


def _silencer_of_silence(silence: Silence) -> Silencer | None:
    matchers = _compiled(silence.matchers, f"silence {silence.pk}")
    if matchers is None:
        return None
    return Silencer(
        kind="silence",
        pk=silence.pk,
        label=silence.comment,
        matchers=matchers,
        created_by=silence.created_by.get_username() if silence.created_by else "",
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
    )


def _silencer_of_window(window: MaintenanceWindow) -> Silencer | None:
    matchers = _compiled(window.matchers, f"maintenance window {window.pk}")
    spec = window_spec_of(window)
    if matchers is None or (errors := window_errors(spec)):
        if matchers is not None:
            log.error("maintenance window %s ignored: %s", window.pk, errors)
        return None
    return Silencer(
        kind="window",
        pk=window.pk,
        label=window.name,
        matchers=matchers,
        window=spec,
        handled_until=window.last_end_handled,
    )


def silencers_load(*, at: datetime) -> tuple[Silencer, ...]:
    """Silences and enabled windows that may be open within LOAD_MARGIN of `at` (uncached).
    Silences first (the one lasting longest first), then windows by name."""
    low, high = at - LOAD_MARGIN, at + LOAD_MARGIN
    silences = (
        Silence.objects.filter(starts_at__lt=high, ends_at__gt=low, ended_handled_at__isnull=True)
        .select_related("created_by")
        .order_by("-ends_at", "pk")
    )
    windows = (
        MaintenanceWindow.objects.filter(enabled=True)
        .filter(
            Q(starts_at__isnull=True, ends_at__isnull=True) | Q(starts_at__lt=high, ends_at__gt=low)
        )
        .order_by("name", "pk")
    )
    found = [_silencer_of_silence(s) for s in silences] + [_silencer_of_window(w) for w in windows]
    return tuple(spec for spec in found if spec is not None)


@dataclass(frozen=True)
class _Cached:
    loaded: float
    low: datetime
    high: datetime
    silencers: tuple[Silencer, ...]


_cache: _Cached | None = None


def active_silencers(at: datetime) -> tuple[Silencer, ...]:
    """silencers_load, reused in this process for CACHE_SECONDS while `at` stays within the
    loaded span. Changes made through the services clear it at once."""
    global _cache
    now = monotonic_clock.monotonic()
    cached = _cache
    if (
        cached is not None
        and now - cached.loaded < CACHE_SECONDS
        and cached.low <= at <= cached.high
    ):
        return cached.silencers
    silencers = silencers_load(at=at)
    _cache = _Cached(loaded=now, low=at - LOAD_MARGIN, high=at + LOAD_MARGIN, silencers=silencers)
    return silencers


def silencers_cache_clear() -> None:
    global _cache
    _cache = None


def silencing_for(*, fields: Mapping[str, Any], at: datetime) -> str | None:
    """Why the alert is silenced at `at` (an active silence or maintenance window matches), or
    None. Cheap per alert: the silencers come from the in-process cache."""
    return first_silencer(active_silencers(at), fields, at)


def inhibit_rules_load() -> tuple[InhibitSpec, ...]:
    rules = []
    for rule in InhibitRule.objects.filter(enabled=True).order_by("name", "pk"):
        source = _compiled(rule.source_matchers, f"inhibit rule {rule.pk} source")
        target = _compiled(rule.target_matchers, f"inhibit rule {rule.pk} target")
        if source is None or target is None:
            continue
        equal = tuple(label_name(str(name).strip()) for name in rule.equal or [])
        rules.append(InhibitSpec(rule.pk, rule.name, source, target, equal))
    return tuple(rules)


def inhibit_context(at: datetime) -> InhibitContext:
    """Once per batch: the enabled inhibit rules and the alerts firing at `at` that match a
    rule's source matchers. No rule, no query for alerts."""
    rules = inhibit_rules_load()
    if not rules:
        return InhibitContext()
    firing = (
        Alert.objects.filter(status=Alert.Status.FIRING, first_seen__lte=at)
        .select_related("integration__team")
        .order_by("pk")
    )
    return inhibit_context_build(
        rules,
        (((a.integration_id, a.fingerprint), alert_fields(a)) for a in firing.iterator(2000)),
    )


# --- the end of a silence or window -------------------------------------------------------


def silences_handle_ended(*, now: datetime | None = None) -> int:
    """From the periodic sweep. For each silence past its end and each window occurrence closed
    since `last_end_handled` (each row claimed with SKIP LOCKED, marked handled in the same
    transaction): matching alerts that resolved meanwhile lose their suppression and stay
    resolved. Then every firing alert still "silenced" that no active silence or window covers
    any more (the end of a silence or window, an expiry, a deleted or edited one) is treated
    as new: its suppression is cleared and it is routed normally. Idempotent and safe to run
    in parallel. Returns how many alerts changed."""
    now = now or timezone.now()
    changed = 0
    ended = Silence.objects.filter(ended_handled_at__isnull=True, ends_at__lte=now)
    for pk in ended.order_by("ends_at", "pk").values_list("pk", flat=True):
        changed += _silence_end(pk=pk, now=now)
    for window in MaintenanceWindow.objects.order_by("pk"):
        changed += _window_ends(window=window, now=now)
    return changed + _release_uncovered(now=now)


def _silence_end(*, pk: int, now: datetime) -> int:
    with transaction.atomic():
        silence = (
            Silence.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, ended_handled_at__isnull=True, ends_at__lte=now)
            .first()
        )
        if silence is None:
            return 0  # handled meanwhile, or another sweep has it
        matchers = _compiled(silence.matchers, f"silence {silence.pk}")
        cleared = _clear_resolved(matchers, since=silence.starts_at) if matchers else 0
        silence.ended_handled_at = now
        silence.save(update_fields=["ended_handled_at"])
    return cleared


def _window_ends(*, window: MaintenanceWindow, now: datetime) -> int:
    # Checked without a lock first: almost always nothing has closed, and no row is locked.
    spec = window_spec_of(window)
    since = window.last_end_handled or window.created_at
    if window_errors(spec) or not ended_between(spec, since, now):
        return 0
    with transaction.atomic():
        locked = (
            MaintenanceWindow.objects.select_for_update(skip_locked=True)
            .filter(pk=window.pk)
            .first()
        )
        if locked is None:
            return 0
        spec = window_spec_of(locked)
        closed = (
            []
            if window_errors(spec)
            else ended_between(spec, locked.last_end_handled or locked.created_at, now)
        )
        if not closed:
            return 0
        matchers = _compiled(locked.matchers, f"maintenance window {locked.pk}")
        cleared = _clear_resolved(matchers, since=closed[0][0]) if matchers else 0
        locked.last_end_handled = closed[-1][1]
        locked.save(update_fields=["last_end_handled"])
    return cleared


def _clear_resolved(matchers: CompiledMatchers, *, since: datetime) -> int:
    """Silenced alerts that resolved since the silence or window opened: they never paged and
    must not page later; they keep their reason as the record of why."""
    resolved = (
        Alert.objects.filter(
            status=Alert.Status.RESOLVED, suppression=SILENCED, last_seen__gte=since
        )
        .select_related("integration__team")
        .order_by("pk")
    )
    ids = [alert.pk for alert in resolved if matchers.matches(alert_fields(alert))]
    if not ids:
        return 0
    return Alert.objects.filter(pk__in=ids, suppression=SILENCED).update(suppression="")


def _release_uncovered(*, now: datetime) -> int:
    silenced = list(
        Alert.objects.filter(status=Alert.Status.FIRING, suppression=SILENCED)
        .select_related("integration__team")
        .order_by("pk")
    )
    if not silenced:
        return 0
    # Loaded after the alerts, uncached: whatever silenced one of them was committed before
    # it, so it is seen here; a stale list could release an alert a new silence covers.
    silencers = silencers_load(at=now)
    released = 0
    for alert in silenced:
        if released >= RELEASE_LIMIT:
            break
        if first_silencer(silencers, alert_fields(alert), now) is not None:
            continue
        try:
            released += _release(pk=alert.pk, silencers=silencers, now=now)
        except Exception:
            # One alert that cannot be routed (a bug, a broken route) must not hold back the
            # others: it stays silenced, rolled back, and is tried again by the next sweep.
            log.exception("releasing silenced alert %s failed", alert.pk)
    return released


def _release(*, pk: int, silencers: tuple[Silencer, ...], now: datetime) -> int:
    from . import ingest  # the processing path imports this module

    with transaction.atomic():
        ingest.processing_turn()
        alert = (
            Alert.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("integration__team")
            .filter(pk=pk, status=Alert.Status.FIRING, suppression=SILENCED)
            .first()
        )
        # Locked by a batch right now (left for the next sweep), resolved or released meanwhile.
        if alert is None or first_silencer(silencers, alert_fields(alert), now) is not None:
            return 0
        alert.suppression = ""
        alert.suppression_reason = ""
        alert.save(update_fields=["suppression", "suppression_reason"])
        ingest.alert_route_and_attach(alert=alert, at=now)
    return 1


# --- who may change them ------------------------------------------------------------------


def silence_user_may_manage(*, user) -> bool:
    """Create and expire silences: managers, administrators and members (not observers) of a
    team inside the IOC. A silence is an everyday floor action."""
    if not user.is_authenticated:
        return False
    if user_is_manager(user=user):
        return True
    return Membership.objects.filter(
        user=user, team__in_ioc=True, role=Membership.Role.MEMBER
    ).exists()


# --- selectors ----------------------------------------------------------------------------


def silence_state(silence: Silence, at: datetime) -> str:
    if silence.ends_at <= at:
        return "expired"
    return "active" if silence.starts_at <= at else "upcoming"


def silence_list(*, at: datetime | None = None, recent: timedelta = timedelta(days=1)) -> QuerySet:
    """Active and upcoming silences, and those that ended within `recent`; latest start first."""
    at = at or timezone.now()
    return (
        Silence.objects.filter(ends_at__gt=at - recent)
        .select_related("created_by")
        .order_by("-starts_at", "-pk")
    )


def maintenance_window_list() -> QuerySet:
    return MaintenanceWindow.objects.select_related("created_by").order_by("name", "pk")


def maintenance_window_occurrences(
    *, window: MaintenanceWindow, at: datetime, count: int = 3
) -> tuple[bool, list[tuple[datetime, datetime]]]:
    """Whether the window is open at `at`, and its current and next occurrences (UTC)."""
    spec = window_spec_of(window)
    try:
        active = window.enabled and is_active(spec, at)
        return active, next_occurrences(spec, at, count)
    except WindowError:
        return False, []  # a stored window that no longer validates silences nothing


def inhibit_rule_list() -> QuerySet:
    return InhibitRule.objects.select_related("created_by").order_by("name", "pk")


# --- services -----------------------------------------------------------------------------


def _audit(*, actor, obj, flag: int, message: str) -> None:
    # The admin's own history: the same LogEntry rows the admin writes, so a change made from
    # the UI or the API shows there with who made it.
    if actor is None or not actor.is_authenticated:
        return
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[obj],
        action_flag=flag,
        change_message=message,
        single_object=True,
    )


def _check_via(via: str) -> None:
    if via not in VIAS:
        raise ValueError(f"via must be one of {', '.join(sorted(VIAS))}")


def _check_write(*, via: str, fields: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """The checks every create and update starts with: a known `via`, only `allowed` fields."""
    _check_via(via)
    if unknown := set(fields) - set(allowed):
        raise TypeError(f"unknown fields {sorted(unknown)}")


_M = TypeVar("_M", bound=Model)


def _update(
    model: type[_M],
    obj: _M,
    *,
    changes: Mapping[str, Any],
    allowed: tuple[str, ...],
    save: Callable[[_M], None],
    actor,
    via: str,
    then: Callable[[], None] | None = None,
) -> _M:
    """Set the `changes` that differ on the locked row, `save` it (which validates) and audit
    the change; `then` runs after that, in the same transaction. Nothing changed, nothing
    written. Returns the locked row."""
    _check_write(via=via, fields=changes, allowed=allowed)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=obj.pk)
        changed = [name for name, value in changes.items() if getattr(locked, name) != value]
        for name in changed:
            setattr(locked, name, changes[name])
        if changed:
            save(locked)
            _audit(
                actor=actor,
                obj=locked,
                flag=CHANGE,
                message=f"Changed {', '.join(changed)} via {via}",
            )
            if then is not None:
                then()
    return locked


def _changed() -> None:
    # Now for this process's next batch, and again after commit so that a batch that loaded
    # in between does not keep the old list for the rest of its second.
    silencers_cache_clear()
    transaction.on_commit(silencers_cache_clear)


def _user_or_none(actor):
    return actor if actor is not None and actor.is_authenticated else None


def silence_create(
    *,
    matchers: list[dict],
    ends_at: datetime,
    comment: str,
    actor,
    via: str,
    starts_at: datetime | None = None,
) -> Silence:
    """A silence of the matching alerts from `starts_at` (default now) until `ends_at`.
    ValidationError (by field) when the matchers, the times or the comment are wrong."""
    _check_via(via)
    now = timezone.now()
    starts_at = starts_at or now
    errors = silence_errors(
        matchers=matchers, starts_at=starts_at, ends_at=ends_at, comment=comment, now=now
    )
    if errors:
        raise ValidationError(errors)
    compiled = compile_matchers(matchers)
    with transaction.atomic():
        silence = Silence.objects.create(
            matchers=compiled.as_json(),
            starts_at=starts_at,
            ends_at=ends_at,
            comment=comment.strip(),
            created_by=_user_or_none(actor),
        )
        _audit(
            actor=actor,
            obj=silence,
            flag=ADDITION,
            message=f"Created via {via}: {compiled.describe()}, "
            f"{starts_at:%Y-%m-%d %H:%M} to {ends_at:%Y-%m-%d %H:%M} UTC",
        )
        _changed()
    return silence


def silence_expire(*, silence: Silence, actor, via: str) -> Silence:
    """End the silence now (an upcoming one never starts). The next sweep treats its alerts
    still firing as new. Expiring an expired silence changes nothing."""
    _check_via(via)
    with transaction.atomic():
        locked = Silence.objects.select_for_update().get(pk=silence.pk)
        now = timezone.now()
        if locked.ends_at <= now:
            return locked
        locked.ends_at = now
        locked.starts_at = min(locked.starts_at, now)
        locked.save(update_fields=["ends_at", "starts_at"])
        _audit(actor=actor, obj=locked, flag=CHANGE, message=f"Expired via {via}")
        _changed()
    return locked


WINDOW_FIELDS = (
    "name",
    "matchers",
    "reason",
    "time_zone",
    "starts_at",
    "ends_at",
    "weekdays",
    "start_time",
    "duration_minutes",
    "enabled",
)


def _window_save(window: MaintenanceWindow) -> None:
    spec = window_spec_of(window)
    if not isinstance(window.weekdays, list):
        raise ValidationError({"weekdays": "a list of weekday numbers (0 = Monday … 6 = Sunday)"})
    errors = maintenance_window_errors(
        name=window.name, matchers=window.matchers, reason=window.reason, spec=spec
    )
    if errors:
        raise ValidationError(errors)
    window.name = window.name.strip()
    window.reason = window.reason.strip()
    window.matchers = compile_matchers(window.matchers).as_json()
    window.weekdays = sorted(set(window.weekdays))
    window.save()


def maintenance_window_create(*, actor, via: str, **fields: Any) -> MaintenanceWindow:
    """A maintenance window from WINDOW_FIELDS: one-off (starts_at, ends_at) or weekly
    (weekdays, start_time, duration_minutes in time_zone). ValidationError by field."""
    _check_write(via=via, fields=fields, allowed=WINDOW_FIELDS)
    window = MaintenanceWindow(created_by=_user_or_none(actor), **fields)
    with transaction.atomic():
        _window_save(window)
        _audit(actor=actor, obj=window, flag=ADDITION, message=f"Created via {via}")
        _changed()
    return window


def maintenance_window_update(
    *, window: MaintenanceWindow, actor, via: str, **changes: Any
) -> MaintenanceWindow:
    """Change the given WINDOW_FIELDS (the others stay). ValidationError by field."""
    return _update(
        MaintenanceWindow,
        window,
        changes=changes,
        allowed=WINDOW_FIELDS,
        save=_window_save,
        actor=actor,
        via=via,
        then=_changed,  # windows silence: the cached silencers are stale now
    )


def maintenance_window_delete(*, window: MaintenanceWindow, actor, via: str) -> None:
    """Delete the window; the next sweep treats the alerts it silenced, still firing, as new."""
    _check_via(via)
    with transaction.atomic():
        _audit(actor=actor, obj=window, flag=DELETION, message=f"Deleted via {via}")
        window.delete()
        _changed()


RULE_FIELDS = ("name", "source_matchers", "target_matchers", "equal", "enabled")


def _rule_save(rule: InhibitRule) -> None:
    errors = inhibit_rule_errors(
        name=rule.name,
        source_matchers=rule.source_matchers,
        target_matchers=rule.target_matchers,
        equal=rule.equal,
    )
    if errors:
        raise ValidationError(errors)
    rule.name = rule.name.strip()
    rule.source_matchers = compile_matchers(rule.source_matchers).as_json()
    rule.target_matchers = compile_matchers(rule.target_matchers).as_json()
    rule.equal = list(dict.fromkeys(label_name(name.strip()) for name in rule.equal))
    rule.save()


def inhibit_rule_create(*, actor, via: str, **fields: Any) -> InhibitRule:
    """An inhibit rule from RULE_FIELDS. ValidationError by field."""
    _check_write(via=via, fields=fields, allowed=RULE_FIELDS)
    rule = InhibitRule(created_by=_user_or_none(actor), **fields)
    with transaction.atomic():
        _rule_save(rule)
        _audit(actor=actor, obj=rule, flag=ADDITION, message=f"Created via {via}")
    return rule


def inhibit_rule_update(*, rule: InhibitRule, actor, via: str, **changes: Any) -> InhibitRule:
    """Change the given RULE_FIELDS (the others stay). ValidationError by field."""
    return _update(
        InhibitRule,
        rule,
        changes=changes,
        allowed=RULE_FIELDS,
        save=_rule_save,
        actor=actor,
        via=via,
    )


def inhibit_rule_delete(*, rule: InhibitRule, actor, via: str) -> None:
    _check_via(via)
    with transaction.atomic():
        _audit(actor=actor, obj=rule, flag=DELETION, message=f"Deleted via {via}")
        rule.delete()
