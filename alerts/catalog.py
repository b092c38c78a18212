"""The service catalog: services and components found from alerts, their owner teams, tiers and
dependencies; bulk import and export; and the two reads that alert processing makes on every
batch (the owner of a service, the transitive upstream of a component).

Writes go through the services below (`service_*`, `dependency_*`, `catalog_import*`); each
records who did it, and from where, as a `LogEntry`, so the admin's history of a service shows
changes made in the admin, the browser and the API alike. Discovery is the system's and is not
logged: the row itself says `discovered` and `first_seen`.

Routing and suppression read from a per-process snapshot (owners and the dependency graph),
checked against a cheap version query at most once every IOC_CATALOG_CHECK_SECONDS (default 1):
a change made in another process is seen within that time, one made in this process at once.
"""

import csv
import io
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from teams.models import Team
from teams.selectors import team_ids_visible_to

from .models import Alert, Service, ServiceDependency

TIER_MIN, TIER_MAX = 1, 5
NAME_MAX = Service._meta.get_field("name").max_length
KINDS = frozenset(Service.Kind.values)
CSV_COLUMNS = ("name", "kind", "owner_team", "tier", "description", "depends_on")
CSV_MAX_BYTES = 10 * 1024 * 1024


class _Unset(Enum):
    UNSET = "unset"


# "Leave this field as it is": None already means "no owner" or "no tier".
UNSET = _Unset.UNSET


# --- discovery ---------------------------------------------------------------------------------


def service_discover(*, names_and_kinds: Iterable[tuple[str, str]], at: datetime) -> None:
    """Record the services and hosts seen in one processed batch: the unknown ones are added
    (discovered, no owner), the known ones get `last_alert_at = at`. One SELECT and one UPDATE,
    plus one INSERT when something is new, whatever the batch size.

    Safe beside other workers: the INSERT skips names another worker added first
    (ON CONFLICT DO NOTHING, names in sorted order so two inserts cannot deadlock), and the
    UPDATE skips rows another worker's batch has locked, because that batch is bumping them to
    a time just as recent; waiting for it would serialize the workers on popular services."""
    wanted: dict[str, str] = {}
    for name, kind in names_and_kinds:
        name = (name or "").strip()
        # An over-long name cannot be stored whole, and a cut one would never match again.
        if name and len(name) <= NAME_MAX and name not in wanted:
            wanted[name] = kind if kind in KINDS else Service.Kind.OTHER
    if not wanted:
        return
    with transaction.atomic():
        known = dict(Service.objects.filter(name__in=wanted).values_list("name", "id"))
        missing = sorted(set(wanted) - set(known))
        if missing:
            Service.objects.bulk_create(
                [
                    Service(
                        name=name,
                        kind=wanted[name],
                        discovered=True,
                        first_seen=at,
                        last_alert_at=at,
                    )
                    for name in missing
                ],
                ignore_conflicts=True,
            )
        if known:
            free = (
                Service.objects.filter(id__in=known.values())
                .order_by("id")
                .select_for_update(skip_locked=True)
                .values("id")
            )
            # Greatest: a batch that ran late must not move the time back.
            Service.objects.filter(id__in=Subquery(free)).update(
                last_alert_at=Greatest(Coalesce("last_alert_at", Value(at)), Value(at))
            )


# --- the snapshot that routing and suppression read ---------------------------------------------


def upstream_closure(graph: Mapping[str, Iterable[str]], name: str) -> set[str]:
    """Everything `name` depends on, directly or through others (A → B → C: {B, C}). Pure;
    cycles are fine (A → B → A: {B}), and a name is never its own upstream."""
    seen: set[str] = set()
    stack = list(graph.get(name, ()))
    while stack:
        node = stack.pop()
        if node == name or node in seen:
            continue
        seen.add(node)
        stack.extend(graph.get(node, ()))
    return seen


@dataclass
class _Snapshot:
    version: tuple
    checked_at: float
    owners: dict[str, int]
    graph: dict[str, frozenset[str]]
    # Filled on demand: most components are never asked about.
    closures: dict[str, frozenset[str]] = field(default_factory=dict)
    depended_on: frozenset[str] | None = None


_snapshot: _Snapshot | None = None
_snapshot_lock = threading.Lock()


def catalog_cache_clear(**_kwargs: Any) -> None:
    """Forget the snapshot: the next read loads it again. The services below call this; tests
    that change the catalog by other means call it too."""
    global _snapshot
    _snapshot = None


setting_changed.connect(catalog_cache_clear, dispatch_uid="alerts.catalog.cache_clear")


def _version() -> tuple:
    # Every change that matters moves one of these: a save moves max(updated_at); a deleted
    # service the count; a deleted owner team (SET NULL, no save) the count of owners; an added
    # dependency the max id, a removed one the count.
    service = connection.ops.quote_name(Service._meta.db_table)
    dependency = connection.ops.quote_name(ServiceDependency._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT max(updated_at) FROM {service}),"  # noqa: S608 (table names)
            f" (SELECT count(*) FROM {service}),"
            f" (SELECT count(owner_team_id) FROM {service}),"
            f" (SELECT count(*) FROM {dependency}),"
            f" (SELECT max(id) FROM {dependency})"
        )
        return tuple(cursor.fetchone())


def _load(version: tuple, now: float) -> _Snapshot:
    owners = dict(
        Service.objects.filter(owner_team__isnull=False).values_list("name", "owner_team_id")
    )
    graph: dict[str, set[str]] = defaultdict(set)
    for name, upstream in ServiceDependency.objects.values_list(
        "service__name", "depends_on__name"
    ):
        graph[name].add(upstream)
    frozen = {name: frozenset(names) for name, names in graph.items()}
    return _Snapshot(version=version, checked_at=now, owners=owners, graph=frozen)


def _current() -> _Snapshot:
    global _snapshot
    snapshot, now = _snapshot, time.monotonic()
    interval = settings.IOC_CATALOG_CHECK_SECONDS
    if snapshot is not None and now - snapshot.checked_at < interval:
        return snapshot
    # One thread checks while the others keep using the snapshot they have.
    with _snapshot_lock:
        snapshot = _snapshot
        if snapshot is not None and now - snapshot.checked_at < interval:
            return snapshot
        version = _version()
        if snapshot is not None and snapshot.version == version:
            snapshot.checked_at = now
        else:
            snapshot = _snapshot = _load(version, now)
        return snapshot


def service_owner_team_id(*, name: str) -> int | None:
    """The owner team's id of the service called `name`, for routes that send an alert to "the
    service's owner"; None when the service is unknown or has no owner. A dictionary lookup
    (see the module's note on the snapshot)."""
    return _current().owners.get(name.strip()) if name else None


def catalog_upstream(*, names: Iterable[str]) -> dict[str, set[str]]:
    """For each name, everything it depends on transitively (empty for unknown names): what
    suppression asks about before paging for a component."""
    snapshot = _current()
    result = {}
    for name in names:
        closure = snapshot.closures.get(name)
        if closure is None:
            closure = snapshot.closures[name] = frozenset(upstream_closure(snapshot.graph, name))
        result[name] = set(closure)
    return result


def catalog_has_dependents(*, names: Iterable[str]) -> bool:
    """Does anything in the catalog depend on one of these names? Answered from the snapshot:
    the placement path asks it for every new incident, and most components have no dependents."""
    snapshot = _current()
    if snapshot.depended_on is None:
        snapshot.depended_on = frozenset(name for ups in snapshot.graph.values() for name in ups)
    return any(name in snapshot.depended_on for name in names)


def catalog_depends_on_transitively(*, name: str) -> set[str]:
    """Everything `name` depends on, directly or through others."""
    return catalog_upstream(names=[name])[name]


# --- reads for the pages and the API ------------------------------------------------------------


def _dependency_count(column: str) -> Coalesce:
    rows = (
        ServiceDependency.objects.filter(**{column: OuterRef("pk")})
        .order_by()
        .values(column)
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(rows), 0)


def service_list_for_user(
    *, user, q: str = "", owner: str = "", unowned: bool = False, kind: str = ""
) -> QuerySet[Service]:
    """Services the user may see, with `depends_on_count` and `dependents_count`. IOC staff and
    managers see the whole catalog; a member of an outside team the services his team owns."""
    services = Service.objects.select_related("owner_team").annotate(
        depends_on_count=_dependency_count("service"),
        dependents_count=_dependency_count("depends_on"),
    )
    team_ids = team_ids_visible_to(user=user)
    if team_ids is not None:
        services = services.filter(owner_team_id__in=team_ids)
    if q:
        services = services.filter(Q(name__icontains=q) | Q(description__icontains=q))
    if owner:
        services = services.filter(owner_team__slug=owner)
    if unowned:
        services = services.filter(owner_team__isnull=True)
    if kind:
        services = services.filter(kind=kind)
    return services.order_by("name")


def service_get_for_user(*, user, pk: int) -> Service:
    """A service the user may see; Service.DoesNotExist otherwise (a 404, not a 403)."""
    return service_list_for_user(user=user).get(pk=pk)


def service_dependencies(*, service: Service) -> tuple[list[Service], list[Service]]:
    """(what it depends on, what depends on it), direct only, by name."""
    return (
        list(Service.objects.filter(dependents=service).order_by("name")),
        list(Service.objects.filter(depends_on=service).order_by("name")),
    )


def service_recent_alerts(*, service: Service, alerts: QuerySet[Alert], limit: int = 20) -> list:
    """The latest alerts about the service, as its service or as its host, from `alerts` (the
    ones the viewer may see)."""
    about = alerts.filter(Q(service=service.name) | Q(source=service.name))
    return list(about.order_by("-last_seen", "-id")[:limit])


# --- writes -----------------------------------------------------------------------------------


def _audit(actor, entries: list[tuple[int, str, int, str]]) -> None:
    """(object id, name, action flag, message) rows in the admin's history, in one INSERT."""
    if actor is None or not entries:
        return  # the system's own changes (discovery) have no one to name
    content_type = ContentType.objects.get_for_model(Service)
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                user_id=actor.pk,
                content_type=content_type,
                object_id=str(pk),
                object_repr=name[:200],
                action_flag=flag,
                change_message=message,
            )
            for pk, name, flag, message in entries
        ]
    )


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"At most {NAME_MAX} characters."})
    return name


def _check(*, kind: Any = UNSET, tier: Any = UNSET) -> None:
    errors = {}
    if kind is not UNSET and kind not in KINDS:
        errors["kind"] = f"One of {', '.join(sorted(KINDS))}."
    if (
        tier is not UNSET
        and tier is not None
        and (
            isinstance(tier, bool) or not isinstance(tier, int) or not TIER_MIN <= tier <= TIER_MAX
        )
    ):
        errors["tier"] = f"A whole number from {TIER_MIN} (most critical) to {TIER_MAX}, or empty."
    if errors:
        raise ValidationError(errors)


def _shown(field_name: str, value: Any) -> str:
    if value is None or value == "":
        return "none"
    if field_name == "owner_team":
        return value.slug
    if field_name == "description":
        return "…"  # descriptions are long; the history says that it changed
    return str(value)


def service_create(
    *,
    name: str,
    kind: str = Service.Kind.SERVICE,
    owner_team: Team | None = None,
    tier: int | None = None,
    description: str = "",
    actor,
    via: str,
) -> Service:
    """Add a service or component by hand. A name already in the catalog is a ValidationError."""
    name = _clean_name(name)
    _check(kind=kind, tier=tier)
    service = Service(
        name=name, kind=kind, owner_team=owner_team, tier=tier, description=description
    )
    try:
        with transaction.atomic():
            service.save()
    except IntegrityError as exc:
        raise ValidationError({"name": f"{name!r} is already in the catalog."}) from exc
    owner = owner_team.slug if owner_team else "no owner"
    _audit(actor, [(service.pk, name, ADDITION, f"Created: {kind}, {owner} (via {via}).")])
    catalog_cache_clear()
    return service


def service_update(
    *,
    service: Service,
    owner_team: Team | _Unset | None = UNSET,
    tier: int | _Unset | None = UNSET,
    kind: str | _Unset = UNSET,
    description: str | _Unset = UNSET,
    actor,
    via: str,
) -> Service:
    """Change what is given (UNSET: leave it). Compares with the row as it is now, locked, so
    the history records what really changed; nothing changed writes nothing. The object passed
    in is updated too (the admin hands over one its form already changed)."""
    _check(kind=kind, tier=tier)
    wanted = {"owner_team": owner_team, "tier": tier, "kind": kind, "description": description}
    with transaction.atomic():
        current = Service.objects.select_for_update(of=("self",)).select_related("owner_team")
        current = current.get(pk=service.pk)
        changes = []
        for name, value in wanted.items():
            if value is UNSET:
                continue
            attname = "owner_team_id" if name == "owner_team" else name
            new = value.pk if name == "owner_team" and value is not None else value
            if getattr(current, attname) != new:
                changes.append(
                    f"{name.replace('_', ' ')}: {_shown(name, getattr(current, name))}"
                    f" → {_shown(name, value)}"
                )
                setattr(current, name, value)
        if changes:
            current.save()
            message = f"Changed {'; '.join(changes)} (via {via})."
            _audit(actor, [(current.pk, current.name, CHANGE, message)])
            catalog_cache_clear()
    for name in [*wanted, "updated_at"]:
        setattr(service, name, getattr(current, name))
    return service


def service_delete(*, service: Service, actor, via: str) -> None:
    """Remove a service and its dependencies either way. If it alerts again it comes back as
    discovered, without an owner."""
    pk, name = service.pk, service.name
    with transaction.atomic():
        Service.objects.filter(pk=pk).delete()
        _audit(actor, [(pk, name, DELETION, f"Deleted (via {via}).")])
    catalog_cache_clear()


def dependency_add(*, service: Service, depends_on: Service, actor, via: str) -> ServiceDependency:
    """`service` depends on `depends_on`; adding it again changes nothing. Cycles are allowed
    (two hosts of a cluster may depend on each other); the upstream closure copes with them."""
    if service.pk == depends_on.pk:
        raise ValidationError({"depends_on": "A service cannot depend on itself."})
    with transaction.atomic():
        dependency, created = ServiceDependency.objects.get_or_create(
            service=service, depends_on=depends_on
        )
        if created:
            message = f"Added dependency on {depends_on.name} (via {via})."
            _audit(actor, [(service.pk, service.name, CHANGE, message)])
    if created:
        catalog_cache_clear()
    return dependency


def dependency_remove(*, service: Service, depends_on: Service, actor, via: str) -> bool:
    """Remove the dependency; False when there was none."""
    with transaction.atomic():
        deleted, _ = ServiceDependency.objects.filter(
            service=service, depends_on=depends_on
        ).delete()
        if deleted:
            message = f"Removed dependency on {depends_on.name} (via {via})."
            _audit(actor, [(service.pk, service.name, CHANGE, message)])
    if deleted:
        catalog_cache_clear()
    return bool(deleted)


def service_dependencies_set(
    *, service: Service, depends_on: Iterable[Service], actor, via: str
) -> tuple[int, int]:
    """Make `depends_on` exactly the service's dependencies; returns (added, removed)."""
    wanted = {other.pk: other for other in depends_on}
    if service.pk in wanted:
        raise ValidationError({"depends_on": "A service cannot depend on itself."})
    with transaction.atomic():
        current = dict(
            ServiceDependency.objects.filter(service=service).values_list(
                "depends_on_id", "depends_on__name"
            )
        )
        added = [wanted[pk] for pk in wanted.keys() - current.keys()]
        removed = current.keys() - wanted.keys()
        ServiceDependency.objects.bulk_create(
            [ServiceDependency(service=service, depends_on=other) for other in added],
            ignore_conflicts=True,
        )
        ServiceDependency.objects.filter(service=service, depends_on_id__in=removed).delete()
        parts = [f"added dependency on {o.name}" for o in sorted(added, key=lambda o: o.name)]
        parts += [f"removed dependency on {current[pk]}" for pk in sorted(removed)]
        if parts:
            message = f"{'; '.join(parts).capitalize()} (via {via})."
            _audit(actor, [(service.pk, service.name, CHANGE, message)])
    if parts:
        catalog_cache_clear()
    return len(added), len(removed)


# --- bulk import and export ---------------------------------------------------------------------
# A site with thousands of servers keeps its topology elsewhere (a CMDB, a spreadsheet) and
# loads it here. Importing is an upsert by name and idempotent: loading the same file again
# changes nothing and says so. Every row is checked before anything is written, and then
# everything is written in one transaction: a file with one bad row changes nothing.
#
# A field that a row does not carry (a JSON key left out, a CSV column not in the header) is
# left as it is; one carried empty is cleared. A row that carries `depends_on` sets that
# service's dependencies to exactly that list; so does a service's set of pairs in
# `dependencies`. Services the file does not mention are left alone: importing never deletes.


@dataclass(frozen=True)
class ImportProblem:
    where: str  # "line 4" (CSV), "services[3]" or "dependencies[0]" (JSON)
    field: str
    message: str

    def as_json(self) -> dict:
        return {"where": self.where, "field": self.field, "message": self.message}


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    dependencies_added: int = 0
    dependencies_removed: int = 0
    errors: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changes(self) -> int:
        return (
            len(self.created)
            + len(self.updated)
            + self.dependencies_added
            + self.dependencies_removed
        )

    def as_json(self) -> dict:
        return {
            "changes": self.changes,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dependencies_added": self.dependencies_added,
            "dependencies_removed": self.dependencies_removed,
            "errors": [problem.as_json() for problem in self.errors],
        }


@dataclass
class _Row:
    where: str
    name: str
    values: dict[str, Any]  # the fields the row carries: kind, owner_team (a slug), tier, …
    depends_on: list[str] | None  # None: not carried


def _text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _names(value: Any) -> list[str] | None:
    """A list of names, or one string of names separated by ";"."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return list(dict.fromkeys(item.strip() for item in value if item.strip()))


def _parse_row(where: str, raw: Any, errors: list[ImportProblem]) -> _Row | None:
    def problem(field_name: str, message: str) -> None:
        errors.append(ImportProblem(where, field_name, message))

    if not isinstance(raw, dict):
        problem("", "A service is an object with at least a name.")
        return None
    for key in raw.keys() - set(CSV_COLUMNS):
        problem(str(key), f"Unknown field; the fields are {', '.join(CSV_COLUMNS)}.")
    name = _text(raw.get("name"))
    if not name:
        problem("name", "A name is required.")
    elif len(name) > NAME_MAX:
        problem("name", f"At most {NAME_MAX} characters.")
    values: dict[str, Any] = {}
    kind = _text(raw.get("kind"))
    if kind:  # an empty kind leaves it as it is (a new service: "service")
        if kind.lower() in KINDS:
            values["kind"] = kind.lower()
        else:
            problem("kind", f"One of {', '.join(sorted(KINDS))}.")
    if "owner_team" in raw:
        slug = _text(raw["owner_team"])
        if slug is None:
            problem("owner_team", "A team's slug, or empty for no owner.")
        values["owner_team"] = slug or None
    if "tier" in raw:
        tier = _text(raw["tier"])
        if tier and not (tier.isdecimal() and TIER_MIN <= int(tier) <= TIER_MAX):
            problem("tier", f"A whole number from {TIER_MIN} to {TIER_MAX}, or empty.")
        values["tier"] = int(tier) if tier and tier.isdecimal() else None
    if "description" in raw:
        description = raw["description"]
        if description is not None and not isinstance(description, str):
            problem("description", "Text.")
        values["description"] = description if isinstance(description, str) else ""
    depends_on = None
    if "depends_on" in raw:
        depends_on = _names(raw["depends_on"])
        if depends_on is None:
            problem("depends_on", 'A list of names, or names separated by ";".')
    if not name or len(name) > NAME_MAX:
        return None
    return _Row(where=where, name=name, values=values, depends_on=depends_on)


def _parse_pair(raw: Any) -> tuple[str, str] | None:
    """{"service": a, "depends_on": b}, [a, b] or "a,b"."""
    if isinstance(raw, dict) and raw.keys() == {"service", "depends_on"}:
        pair = (raw["service"], raw["depends_on"])
    elif isinstance(raw, list | tuple) and len(raw) == 2:
        pair = (raw[0], raw[1])
    elif isinstance(raw, str) and raw.count(",") == 1:
        pair = tuple(raw.split(","))
    else:
        return None
    if not all(isinstance(name, str) and name.strip() for name in pair):
        return None
    return pair[0].strip(), pair[1].strip()


def catalog_import(
    *, rows: list[dict], dependencies: Iterable[Any] = (), actor, via: str
) -> ImportResult:
    """Upsert services (`rows`: dicts with name and any of kind, owner_team (a slug), tier,
    description, depends_on) and dependencies (pairs: {"service": a, "depends_on": b}, [a, b]
    or "a,b"). All or nothing: with any error in `errors`, nothing was written."""
    errors: list[ImportProblem] = []
    parsed = [_parse_row(f"services[{n}]", raw, errors) for n, raw in enumerate(rows)]
    pairs = []
    for n, raw in enumerate(dependencies):
        pair = _parse_pair(raw)
        if pair is None:
            message = 'A pair: {"service": …, "depends_on": …}, [service, depends_on] or "a,b".'
            errors.append(ImportProblem(f"dependencies[{n}]", "", message))
        else:
            pairs.append((f"dependencies[{n}]", *pair))
    return _import([row for row in parsed if row], pairs, errors, actor=actor, via=via)


def _csv_cell_in(value: str) -> str:
    # Undoes the export's guard against spreadsheet formulas (see _csv_cell_out).
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA_STARTS else value


def catalog_import_csv(*, text: str, actor, via: str) -> ImportResult:
    """Import one CSV with a header naming some of the columns name, kind, owner_team, tier,
    description, depends_on (names separated by ";"); `name` is required. Same rules as
    catalog_import; errors name the line."""
    errors: list[ImportProblem] = []
    if len(text) > CSV_MAX_BYTES:
        errors.append(ImportProblem("file", "", f"At most {CSV_MAX_BYTES // 2**20} MiB."))
        return ImportResult(errors=errors)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [column.strip() for column in reader.fieldnames or []]
    except csv.Error as exc:
        return ImportResult(errors=[ImportProblem("line 1", "", f"Not CSV: {exc}.")])
    unknown = [column for column in header if column not in CSV_COLUMNS]
    if "name" not in header or unknown:
        message = f"The header names the columns: name (required), {', '.join(CSV_COLUMNS[1:])}."
        return ImportResult(errors=[ImportProblem("line 1", ", ".join(unknown), message)])
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            where = f"line {reader.line_num}"
            if None in record:
                errors.append(ImportProblem(where, "", "More values than columns."))
                continue
            # A short line leaves its last columns empty, as spreadsheets write them.
            cells = {key: _csv_cell_in(value or "") for key, value in record.items()}
            row = _parse_row(where, cells, errors)
            if row:
                rows.append(row)
    except csv.Error as exc:
        errors.append(ImportProblem(f"line {reader.line_num}", "", f"Not CSV: {exc}."))
    return _import(rows, [], errors, actor=actor, via=via)


def _import(
    rows: list[_Row],
    pairs: list[tuple[str, str, str]],
    errors: list[ImportProblem],
    *,
    actor,
    via: str,
) -> ImportResult:
    result = ImportResult(errors=errors)
    by_name: dict[str, _Row] = {}
    for row in rows:
        if row.name in by_name:
            message = f"{row.name!r} is also in {by_name[row.name].where}."
            errors.append(ImportProblem(row.where, "name", message))
        else:
            by_name[row.name] = row
    wanted_deps: dict[str, set[str]] = {
        row.name: set(row.depends_on) for row in rows if row.depends_on is not None
    }
    for _, name, other in pairs:
        wanted_deps.setdefault(name, set()).add(other)
    mentioned = set(by_name) | {n for _, a, b in pairs for n in (a, b)}
    mentioned |= {n for names in wanted_deps.values() for n in names}
    with transaction.atomic():
        # Locked in id order: two imports of overlapping files queue rather than deadlock.
        services = {
            s.name: s
            for s in Service.objects.filter(name__in=mentioned).order_by("id").select_for_update()
        }
        teams = {team.slug: team for team in Team.objects.all()}
        _check_references(by_name, pairs, services, teams, errors)
        if errors:
            return result

        new = sorted(name for name in by_name if name not in services)
        Service.objects.bulk_create(
            [_new_service(by_name[name], teams) for name in new], ignore_conflicts=True
        )
        # Loaded back for their ids (and, should discovery have added one meanwhile, its row).
        services.update(
            (s.name, s)
            for s in Service.objects.filter(name__in=new).order_by("id").select_for_update()
        )
        result.created = new
        log: dict[str, list[str]] = {name: [] for name in by_name}
        changed = _apply_fields(by_name, services, teams, log, new)
        Service.objects.bulk_update(
            changed, ["kind", "owner_team", "tier", "description", "updated_at"], batch_size=500
        )
        result.updated = sorted(s.name for s in changed if s.name not in new)
        result.dependencies_added, result.dependencies_removed = _apply_dependencies(
            wanted_deps, services, log
        )
        result.unchanged = sum(1 for name in by_name if name not in new and not log[name])
        entries = []
        for name, parts in sorted(log.items()):
            if name in new:
                text = f"Created by import: {services[name].kind}" + "".join(
                    f"; {part}" for part in parts
                )
                entries.append((services[name].pk, name, ADDITION, f"{text} (via {via})."))
            elif parts:
                text = f"Changed by import: {'; '.join(parts)} (via {via})."
                entries.append((services[name].pk, name, CHANGE, text))
        _audit(actor, entries)
    if result.changes:
        catalog_cache_clear()
    return result


def _check_references(by_name, pairs, services, teams, errors) -> None:
    known = set(services) | set(by_name)

    def unknown(where: str, field_name: str, name: str) -> None:
        message = f"No service {name!r} in the catalog or in this file."
        errors.append(ImportProblem(where, field_name, message))

    for row in by_name.values():
        slug = row.values.get("owner_team")
        if slug and slug not in teams:
            errors.append(ImportProblem(row.where, "owner_team", f"No team {slug!r}."))
        for other in row.depends_on or ():
            if other == row.name:
                errors.append(ImportProblem(row.where, "depends_on", "Not on itself."))
            elif other not in known:
                unknown(row.where, "depends_on", other)
    for where, name, other in pairs:
        if name == other:
            errors.append(ImportProblem(where, "depends_on", "Not on itself."))
        for field_name, value in (("service", name), ("depends_on", other)):
            if value not in known:
                unknown(where, field_name, value)


def _new_service(row: _Row, teams: dict[str, Team]) -> Service:
    slug = row.values.get("owner_team")
    return Service(
        name=row.name,
        kind=row.values.get("kind", Service.Kind.SERVICE),
        owner_team=teams[slug] if slug else None,
        tier=row.values.get("tier"),
        description=row.values.get("description", ""),
    )


def _apply_fields(by_name, services, teams, log, new) -> list[Service]:
    teams_by_id = {team.pk: team for team in teams.values()}
    changed, now = [], timezone.now()
    for name, row in by_name.items():
        service, parts = services[name], []
        for field_name, value in row.values.items():
            if field_name == "owner_team":
                value = teams[value] if value else None
                before = teams_by_id.get(service.owner_team_id)
                differs = service.owner_team_id != (value.pk if value else None)
            else:
                before = getattr(service, field_name)
                differs = before != value
            if differs:
                setattr(service, field_name, value)
                label = field_name.replace("_", " ")
                parts.append(f"{label}: {_shown(field_name, before)} → {_shown(field_name, value)}")
        # A "new" one differs only if discovery added it between our SELECT and our INSERT.
        if parts:
            service.updated_at = now
            changed.append(service)
            if name not in new:
                log[name] += parts
    return changed


def _apply_dependencies(wanted_deps, services, log) -> tuple[int, int]:
    ids = {name: services[name].pk for name in wanted_deps}
    names_by_id = {service.pk: name for name, service in services.items()}
    current: dict[int, dict[int, int]] = defaultdict(dict)  # service id: {upstream id: row id}
    for row_id, service_id, upstream_id, upstream_name in ServiceDependency.objects.filter(
        service_id__in=ids.values()
    ).values_list("id", "service_id", "depends_on_id", "depends_on__name"):
        current[service_id][upstream_id] = row_id
        names_by_id[upstream_id] = upstream_name
    to_add, to_remove = [], []
    for name, upstream_names in sorted(wanted_deps.items()):
        have = current[ids[name]]
        want = {services[other].pk for other in upstream_names}
        added, removed = sorted(want - have.keys()), sorted(have.keys() - want)
        to_add += [ServiceDependency(service_id=ids[name], depends_on_id=pk) for pk in added]
        to_remove += [have[pk] for pk in removed]
        log.setdefault(name, [])
        log[name] += [f"added dependency on {names_by_id[pk]}" for pk in added]
        log[name] += [f"removed dependency on {names_by_id[pk]}" for pk in removed]
    ServiceDependency.objects.bulk_create(to_add, batch_size=1000, ignore_conflicts=True)
    ServiceDependency.objects.filter(id__in=to_remove).delete()
    return len(to_add), len(to_remove)


def catalog_export(*, team_ids: set[int] | None = None) -> dict:
    """The catalog as {"services": [...], "dependencies": [{"service", "depends_on"}]}, in the
    shape catalog_import reads. `team_ids`: only services those teams own (None: all)."""
    services = Service.objects.select_related("owner_team").order_by("name")
    dependencies = ServiceDependency.objects.order_by("service__name", "depends_on__name")
    if team_ids is not None:
        services = services.filter(owner_team_id__in=team_ids)
        dependencies = dependencies.filter(
            service__owner_team_id__in=team_ids, depends_on__owner_team_id__in=team_ids
        )
    return {
        "services": [
            {
                "name": s.name,
                "kind": s.kind,
                "owner_team": s.owner_team.slug if s.owner_team else None,
                "tier": s.tier,
                "description": s.description,
            }
            for s in services
        ],
        "dependencies": [
            {"service": a, "depends_on": b}
            for a, b in dependencies.values_list("service__name", "depends_on__name")
        ],
    }


# Cells a spreadsheet would run as a formula. Names come from alerts, that is from outside: the
# export quotes such cells with a leading ' (as spreadsheets do) and the import takes it off.
_FORMULA_STARTS = frozenset("=+-@\t\r")


def _csv_cell_out(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in _FORMULA_STARTS else text


def catalog_export_csv(*, team_ids: set[int] | None = None) -> str:
    """The catalog as one CSV (columns CSV_COLUMNS, depends_on separated by ";") that
    catalog_import_csv reads back unchanged."""
    data = catalog_export(team_ids=team_ids)
    upstream: dict[str, list[str]] = defaultdict(list)
    for pair in data["dependencies"]:
        upstream[pair["service"]].append(pair["depends_on"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for s in data["services"]:
        cells = [s["name"], s["kind"], s["owner_team"], s["tier"], s["description"]]
        writer.writerow([*map(_csv_cell_out, cells), ";".join(upstream[s["name"]])])
    return out.getvalue()


__all__ = [
    "CSV_COLUMNS",
    "TIER_MAX",
    "TIER_MIN",
    "UNSET",
    "ImportProblem",
    "ImportResult",
    "catalog_cache_clear",
    "catalog_depends_on_transitively",
    "catalog_export",
    "catalog_export_csv",
    "catalog_import",
    "catalog_import_csv",
    "catalog_upstream",
    "dependency_add",
    "dependency_remove",
    "service_create",
    "service_delete",
    "service_dependencies",
    "service_dependencies_set",
    "service_discover",
    "service_get_for_user",
    "service_list_for_user",
    "service_owner_team_id",
    "service_recent_alerts",
    "service_update",
    "upstream_closure",
]
