"""One processing batch's view of the database: read in bulk up front, written in bulk at the end.

Processing a delivery used to cost several statements per alert (find and lock the open alert,
save it, read its incident, insert a timeline row, recount the incident, save the delivery). A
batch instead
- locks the open alerts of every fingerprint it carries in one query per integration, in id
  order, and the flapping histories of those fingerprints likewise (one lock order for all);
- keeps the changes in memory (alert fields, new timeline entries, incidents to recount and to
  push to the browsers, flapping histories) and writes each kind with one bulk statement at
  `flush()`;
- remembers, per group key, the open incident it locked, so the alerts of one group look it up
  once.

Code that reads what the batch may not have written yet (the alerts of an open incident, say)
calls `flush()` first; the rare paths (dependency suppression, flapping, source
acknowledgements, a severity rise) do so.

`batch_scope()` gives the batch being processed, or a fresh one flushed when the scope ends, so
the same functions serve processing and the sweeps (a silence ending, flapping settling).
"""

import contextvars
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection
from django.db.models import Model

from incidents.broadcast import incident_changed_on_commit
from incidents.merging import incidents_recount_alerts
from incidents.models import Incident, IncidentEvent
from teams.models import Team

from .flapping import FlapChange, flap_apply_change, flap_policy
from .models import Alert, FlapState

_current: contextvars.ContextVar["Batch | None"] = contextvars.ContextVar(
    "alert_batch", default=None
)

AlertKey = tuple[int, str]  # (integration id, fingerprint)

# SQLite (the embedded mode) caps the parameters of one statement; PostgreSQL does not care.
CHUNK = 500


class Batch:
    def __init__(self) -> None:
        self._open: dict[AlertKey, Alert | None] = {}
        self._closed: dict[AlertKey, Alert] = {}
        self._changed: dict[int, tuple[Alert, set[str]]] = {}
        self._timeline: list[IncidentEvent] = []
        self._recount: set[int] = set()
        self._broadcast: dict[int, int] = {}
        self._flap: dict[AlertKey, FlapState] = {}
        self._flap_changed: dict[AlertKey, FlapState] = {}
        self._incident_facts: dict[int, dict] = {}
        self.group_incidents: dict[str, Incident] = {}
        self.upstream_incidents: dict[frozenset, tuple[Incident, str]] = {}  # placement
        self.routing_hints: dict[int, dict[tuple, tuple]] = {}  # see placement._routed
        self.teams: dict[int, Team] = {}
        self.inhibit = None  # alerts.suppression.InhibitContext, loaded on first use
        self.components: set[tuple[str, str]] = set()  # (name, kind) seen firing, for the catalog

    # --- reads ------------------------------------------------------------------------------

    def load(self, keys: Iterable[AlertKey]) -> None:
        """Lock the open alerts (and flapping histories) of these fingerprints, in one order for
        every batch: by integration, then by id."""
        wanted = defaultdict(set)
        for key in keys:
            if key not in self._open:
                wanted[key[0]].add(key[1])
        for integration_id in sorted(wanted):
            fingerprints = sorted(wanted[integration_id])
            for key_part in fingerprints:
                self._open[(integration_id, key_part)] = None
            for chunk in _chunks(fingerprints):
                for alert in (
                    Alert.objects.select_for_update(of=("self",))
                    .filter(integration_id=integration_id, fingerprint__in=chunk)
                    .exclude(status=Alert.Status.RESOLVED)
                    .order_by("id")
                ):
                    self._open[(integration_id, alert.fingerprint)] = alert
        if flap_policy().enabled:
            for integration_id in sorted(wanted):
                for chunk in _chunks(sorted(wanted[integration_id])):
                    for state in (
                        FlapState.objects.select_for_update()
                        .filter(integration_id=integration_id, fingerprint__in=chunk)
                        .order_by("id")
                    ):
                        self._flap[(integration_id, state.fingerprint)] = state
        self._load_incident_facts(
            alert.incident_id for alert in self._open.values() if alert is not None
        )

    def open_alert(self, integration_id: int, fingerprint: str) -> Alert | None:
        key = (integration_id, fingerprint)
        if key not in self._open:
            self.load([key])
        return self._open[key]

    def alert_created(self, alert: Alert) -> None:
        self._open[(alert.integration_id, alert.fingerprint)] = alert

    def alert_closed(self, alert: Alert) -> None:
        """A resolved alert is no longer the fingerprint's open alert."""
        self._open[(alert.integration_id, alert.fingerprint)] = None
        self._closed[(alert.integration_id, alert.fingerprint)] = alert
        self.upstream_incidents.clear()  # it may have been the upstream alert

    def before_create(self, integration_id: int, fingerprint: str) -> None:
        """A fingerprint that fires again after a resolve in this same batch: the database must
        see the old alert resolved before the new one takes its unique slot."""
        closed = self._closed.get((integration_id, fingerprint))
        if closed is not None and closed.pk in self._changed:
            _, fields = self._changed.pop(closed.pk)
            closed.save(update_fields=sorted(fields))

    def closed_alert(self, integration_id: int, fingerprint: str) -> Alert | None:
        """The fingerprint's alert this batch resolved, if any."""
        return self._closed.get((integration_id, fingerprint))

    def incident_facts(self, incident_id: int) -> dict:
        """The severity and team of an incident, read once per batch."""
        if incident_id not in self._incident_facts:
            self._load_incident_facts([incident_id])
        return self._incident_facts[incident_id]

    def _load_incident_facts(self, incident_ids: Iterable[int | None]) -> None:
        missing = {pk for pk in incident_ids if pk and pk not in self._incident_facts}
        for chunk in _chunks(sorted(missing)):
            for row in Incident.objects.filter(pk__in=chunk).values("id", "severity", "team_id"):
                self._incident_facts[row["id"]] = row

    def team(self, team_id: int) -> Team:
        if team_id not in self.teams:
            self.teams[team_id] = Team.objects.get(pk=team_id)
        return self.teams[team_id]

    # --- changes, written at flush ----------------------------------------------------------

    def alert_changed(self, alert: Alert, *fields: str) -> None:
        entry = self._changed.setdefault(alert.pk, (alert, set()))
        entry[1].update(fields)

    def timeline(self, *, incident_id: int, kind: str, message: str, at: datetime, data: dict):
        self._timeline.append(
            IncidentEvent(incident_id=incident_id, kind=kind, message=message, at=at, data=data)
        )

    def recount(self, incident_id: int) -> None:
        self._recount.add(incident_id)

    def incident_changed(self, *, incident_id: int, team_id: int) -> None:
        self._broadcast[incident_id] = team_id

    def incident_severity_raised(self, incident: Incident) -> None:
        """Keep the batch's copies of a raised incident current (a later alert compares)."""
        if incident.pk in self._incident_facts:
            self._incident_facts[incident.pk]["severity"] = incident.severity
        for cached in self.group_incidents.values():
            if cached.pk == incident.pk:
                cached.severity = incident.severity

    def alerts_moved(self, *, from_incident_id: int, to_incident_id: int) -> None:
        """After a merge: the batch's copies of the moved alerts point at their new incident."""
        for alert in self._open.values():
            if alert is not None and alert.incident_id == from_incident_id:
                alert.incident_id = to_incident_id
        self.group_incidents.clear()  # the merged incident is resolved: no group may use it
        self.upstream_incidents.clear()

    def flap_change(self, *, integration_id: int, fingerprint: str, at: datetime) -> FlapChange:
        """Record a state change (a firing or a resolve) in the fingerprint's history."""
        policy = flap_policy()
        if not policy.enabled:
            return FlapChange(flapping=False, started=False, changes=0)
        key = (integration_id, fingerprint)
        state = self._flap.get(key)
        if state is None:
            state = self._flap[key] = FlapState(
                integration_id=integration_id, fingerprint=fingerprint, changes=[]
            )
        self._flap_changed[key] = state
        return flap_apply_change(state, at=at, policy=policy)

    def flush(self) -> None:
        """Write what the batch changed: one statement per kind of change."""
        by_fields: dict[frozenset, list[Alert]] = defaultdict(list)
        for alert, fields in self._changed.values():
            by_fields[frozenset(fields)].append(alert)
        for fields, alerts in by_fields.items():
            rows_update(Alert, alerts, sorted(fields))
        self._changed.clear()
        self._closed.clear()
        if self._flap_changed:
            fields = ["changes", "last_change_at", "flapping", "flapping_since"]
            states = list(self._flap_changed.values())
            rows_update(FlapState, [state for state in states if state.pk], fields)
            FlapState.objects.bulk_create(
                [state for state in states if not state.pk],
                update_conflicts=True,
                unique_fields=["integration", "fingerprint"],
                update_fields=fields,
                batch_size=CHUNK,
            )
            self._flap_changed.clear()
        if self._timeline:
            IncidentEvent.objects.bulk_create(self._timeline, batch_size=CHUNK)
            self._timeline.clear()
        if self._recount:
            for chunk in _chunks(sorted(self._recount)):
                incidents_recount_alerts(chunk)
            self._recount.clear()
        for incident_id, team_id in self._broadcast.items():
            incident_changed_on_commit(incident_id=incident_id, team_id=team_id)
        self._broadcast.clear()


def rows_update(model: type[Model], objects: list[Model], fields: list[str]) -> None:
    """Write `fields` of many rows in one statement. On PostgreSQL an UPDATE joined to the
    new values as arrays: Django's bulk_update builds a CASE per field and row, whose
    compilation cost more than the rest of processing together (measured)."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, fields, batch_size=CHUNK)
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    arrays = [[obj.pk for obj in objects]]
    for column in columns:
        arrays.append(
            [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objects]
        )
    types = [meta.pk.rel_db_type(connection)] + [column.db_type(connection) for column in columns]
    names = [quote(column.column) for column in columns]
    unnest = ", ".join(f"%s::{kind}[]" for kind in types)
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 (model names)
            f"FROM unnest({unnest}) AS v({quote(meta.pk.column)}, {', '.join(names)}) "
            f"WHERE t.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}",
            arrays,
        )


# Everything that creates, places or moves alerts takes turns on this PostgreSQL advisory lock
# (processing, heartbeats, the self-monitor, silences ending, flapping settling, merges and
# splits): a batch then never races another for an alert's unique slot or an incident's row, so
# it needs neither savepoints nor retries per alert, and nobody locks alerts and incidents in
# the opposite order to a batch (measured before: parallel batches deadlocked down to 14
# alerts/s). One batch at a time, in bulk, processes about 2,800 alerts/s
# (benchmarks/processing.py), far above what two cores accept and route.
PROCESSING_LOCK_KEY = 0x10C0_0001


def processing_turn() -> None:
    """Wait for this transaction's turn (released at commit or rollback; taking it again in
    the same transaction is free). SQLite's immediate transactions already take turns."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PROCESSING_LOCK_KEY])


@contextmanager
def batch_scope() -> Iterator[Batch]:
    """The batch being processed; else a new one, flushed when this scope ends."""
    batch = _current.get()
    if batch is not None:
        yield batch
        return
    batch = Batch()
    token = _current.set(batch)
    try:
        yield batch
        batch.flush()
    finally:
        _current.reset(token)


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
