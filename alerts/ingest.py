"""Processing of accepted deliveries into alerts and incidents (accepting them: accept.py).

Runs after commit, in batches, by a Celery worker (REDIS_URL set) or the background thread of
`manage.py serve`; idempotent, because a batch commits its alerts and marks its deliveries done in
one transaction, so a batch cut short by a crash is simply done again.
"""

import contextvars
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from incidents.broadcast import incident_changed_on_commit
from incidents.merging import incident_recount_alerts
from incidents.models import OPEN_STATUSES, Incident, IncidentEvent, Status, Via
from incidents.services import (
    SEVERITY_RANK,
    incident_raise_severity,
    incident_transition,
    severity_for_alert,
    timeline_append,
)

from . import sns
from .catalog import service_discover
from .flapping import (
    FlapChange,
    flap_is_flapping,
    flap_policy,
    flap_record_change,
    flap_state_changes,
    flap_states_prune,
    flap_states_quiet,
)
from .heartbeat import heartbeat_record_ping, heartbeats_check
from .models import Alert, FlapState, InboundEvent, Integration
from .payloads import BodyError, decode_body
from .placement import _join as placement_join
from .placement import alert_route_and_attach, placement_batch
from .retention import deliveries_prune
from .sources import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    SubscriptionConfirmation,
    source_for_kind,
)
from .suppression import silences_handle_ended

log = logging.getLogger(__name__)

# The services and hosts seen by the batch being processed, for the catalog.
_seen_components: contextvars.ContextVar[set | None] = contextvars.ContextVar(
    "seen_components", default=None
)

# Deadlock and serialization failure: another worker won a lock race; trying again succeeds.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})

# Retention deletes in batches and finds nothing to do most of the time: once a minute is plenty.
RETENTION_EVERY_SECONDS = 60.0
_retention_last_run: float | None = None  # time.monotonic() of this process's last run


@dataclass(frozen=True)
class AlertOutcome:
    alert_id: int | None
    fingerprint: str
    # created, updated, resolved, unknown_resolve, stale_resolve, acknowledged, unknown_acknowledge
    action: str
    flapping: bool = False

    def as_dict(self) -> dict:
        data = {"alert": self.alert_id, "fingerprint": self.fingerprint, "action": self.action}
        if self.flapping:
            data["flapping"] = True
        return data


def deliveries_process_pending(*, older_than: timedelta | None = None) -> int:
    """Process pending deliveries in batches until none is left; returns how many were done."""
    done = 0
    while True:
        count = deliveries_process_batch(older_than=older_than)
        done += count
        if count < settings.IOC_PROCESS_BATCH_SIZE:
            return done


# Batches take their alert and incident locks in payload order, so two batches running at once
# can lock the same incidents in opposite orders and deadlock (measured: two Celery workers fell
# to a few alerts/s). Until batches lock in one global order, they take turns on PostgreSQL.
PROCESSING_LOCK_KEY = 0x10C0_0001


def _take_processing_turn() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PROCESSING_LOCK_KEY])


def deliveries_process_batch(*, older_than: timedelta | None = None) -> int:
    with transaction.atomic():
        _take_processing_turn()
        pending = InboundEvent.objects.filter(status=InboundEvent.Status.PENDING)
        if older_than is not None:
            pending = pending.filter(received_at__lte=timezone.now() - older_than)
        # SKIP LOCKED: several workers (and the sweep) share the queue without waiting on or
        # doubling each other's rows. Only our own rows are locked, not the joined integration.
        events = list(
            pending.order_by("id")
            .select_related("integration__team")
            .select_for_update(skip_locked=True, of=("self",))[: settings.IOC_PROCESS_BATCH_SIZE]
        )
        seen = _seen_components.set(set())
        try:
            with placement_batch():
                for event in events:
                    delivery_process(event=event)
            # The service catalog learns of new services and hosts once per batch.
            if _seen_components.get():
                service_discover(names_and_kinds=_seen_components.get(), at=timezone.now())
        finally:
            _seen_components.reset(seen)
    return len(events)


def deliveries_sweep() -> int:
    """The periodic sweep (every 10 s): deliveries nobody processed within a minute (a worker
    died, Redis was down), then overdue heartbeats, flapping gone quiet and, once a minute,
    retention. Returns how many deliveries it processed."""
    done = deliveries_process_pending(older_than=timedelta(minutes=1))
    parts = [
        heartbeats_check,
        flapping_clear_quiet,
        silences_handle_ended,
        incidents_auto_resolve,
        self_monitor,
    ]
    if _retention_due():
        parts += [deliveries_prune, flap_states_prune]
    now = timezone.now()
    for part in parts:
        try:
            part(now=now)
        except Exception:
            # One broken part must not starve the others (an overdue heartbeat still fires).
            log.exception("sweep: %s failed", part.__name__)
    return done


def _retention_due() -> bool:
    # Per process: several Celery workers may each run it once a minute, which is harmless.
    global _retention_last_run
    now = time.monotonic()
    if _retention_last_run is not None and now - _retention_last_run < RETENTION_EVERY_SECONDS:
        return False
    _retention_last_run = now
    return True


def delivery_process(*, event: InboundEvent) -> None:
    """Turn one stored delivery into alerts. A parse error is kept on the delivery, never lost."""
    integration = event.integration
    event.attempts += 1
    try:
        outcomes = _delivery_apply(event=event, integration=integration)
    except _Contended as exc:
        # Not the delivery's fault: it stays pending for the next batch or the sweep.
        log.warning("delivery %s left pending after lock contention: %s", event.pk, exc)
        event.error = f"will retry: {exc}"
        event.save(update_fields=["error", "attempts"])
        return
    except IgnoredPayload as exc:
        event.status = InboundEvent.Status.PROCESSED
        event.error = ""
        event.result = {"ignored": exc.reason}
    except SubscriptionConfirmation as exc:
        # Confirmed here, after the webhook answered, and only with an allowed AWS host.
        event.status = InboundEvent.Status.PROCESSED
        event.error = ""
        event.result = {
            "subscription_confirmation": exc.topic_arn,
            **sns.sns_confirm_subscription(subscribe_url=exc.subscribe_url),
        }
    except (PayloadError, BodyError) as exc:
        event.status = InboundEvent.Status.FAILED
        event.error = str(exc)
    except Exception as exc:
        # A bug of ours must not wedge the queue: keep the delivery with the error for a retry.
        log.exception("processing delivery %s failed", event.pk)
        event.status = InboundEvent.Status.FAILED
        event.error = f"internal error: {type(exc).__name__}: {exc}"
    else:
        event.status = InboundEvent.Status.PROCESSED
        event.error = ""
        event.result = {"alerts": [outcome.as_dict() for outcome in outcomes]}
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "result", "processed_at", "attempts"])


class _Contended(Exception):
    pass


def _delivery_apply(*, event: InboundEvent, integration: Integration) -> list[AlertOutcome]:
    try:
        with transaction.atomic():
            payload = decode_body(event.body.encode("utf-8"), event.content_type)
            parsed = source_for_kind(integration.kind).parse(
                payload, event.headers, config=integration.config
            )
            outcomes = [
                alert_apply(integration=integration, parsed=item, at=event.received_at)
                for item in parsed
            ]
            if integration.kind == Integration.Kind.HEARTBEAT:
                heartbeat_record_ping(integration=integration, at=event.received_at)
            return outcomes
    except OperationalError as exc:
        # Parallel batches lock the alerts and incidents of interleaved fingerprints in
        # different orders, so PostgreSQL may pick this savepoint as a deadlock victim. It is
        # rolled back with its locks; the next batch takes the delivery again. Retrying here
        # instead would hold the batch's other locks longer and feed more deadlocks (measured).
        if getattr(exc.__cause__, "sqlstate", None) in TRANSIENT_SQLSTATES:
            raise _Contended(str(exc).strip().splitlines()[0]) from exc
        raise


def alert_apply(*, integration: Integration, parsed: ParsedAlert, at: datetime) -> AlertOutcome:
    seen = _seen_components.get()
    if seen is not None and parsed.status != "resolved":
        if parsed.service:
            seen.add((parsed.service, "service"))
        if parsed.source:
            seen.add((parsed.source, "host"))
    if parsed.status == "resolved":
        return _alert_resolve(integration=integration, parsed=parsed, at=at)
    if parsed.status == "acknowledged":
        return _alert_acknowledge(integration=integration, parsed=parsed)
    for _attempt in range(3):
        alert = _open_alert(integration, parsed.fingerprint)
        if alert is not None:
            return _alert_repeat(alert=alert, parsed=parsed, integration=integration, at=at)
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    integration=integration,
                    fingerprint=parsed.fingerprint,
                    severity=parsed.severity or integration.default_severity,
                    name=parsed.name,
                    summary=parsed.summary,
                    description=parsed.description,
                    source=parsed.source,
                    service=parsed.service,
                    labels=dict(parsed.labels),
                    first_seen=at,
                    last_seen=at,
                    source_started_at=parsed.started_at,
                )
        except IntegrityError:
            continue  # another worker created it meanwhile: update theirs
        flap = flap_record_change(integration=integration, fingerprint=alert.fingerprint, at=at)
        if flap.flapping:
            _alert_attach_flapping(alert=alert, flap=flap, at=at)
        else:
            _alert_attach(alert=alert, team=integration.team, at=at)
        return AlertOutcome(alert.pk, alert.fingerprint, "created", flapping=flap.flapping)
    raise RuntimeError(f"could not upsert alert {parsed.fingerprint}")


def resolve_is_stale(*, firing_started_at: datetime | None, parsed: ParsedAlert) -> bool:
    """A resolve older than the current firing, by the source's own clock, belongs to an earlier
    firing and arrived late (deliveries can overtake each other). Without times on either side
    there is nothing to compare, and the resolve applies."""
    resolved_at = parsed.ended_at or parsed.started_at
    if firing_started_at is None or resolved_at is None:
        return False
    return resolved_at < firing_started_at


def _open_alert(integration: Integration, fingerprint: str) -> Alert | None:
    return (
        Alert.objects.select_for_update()
        .filter(integration=integration, fingerprint=fingerprint)
        .exclude(status=Alert.Status.RESOLVED)
        .first()
    )


def _alert_repeat(
    *, alert: Alert, parsed: ParsedAlert, integration: Integration, at: datetime
) -> AlertOutcome:
    alert.count += 1
    alert.last_seen = max(alert.last_seen, at)
    alert.severity = parsed.severity or integration.default_severity
    alert.summary = parsed.summary
    alert.labels = dict(parsed.labels)
    fields = ["count", "last_seen", "severity", "summary", "labels"]
    # The source fired again (its resolve may still be on the way): resolves older than this
    # firing are stale from now on.
    if parsed.started_at is not None and (
        alert.source_started_at is None or parsed.started_at > alert.source_started_at
    ):
        alert.source_started_at = parsed.started_at
        fields.append("source_started_at")
    alert.save(update_fields=fields)
    if alert.incident_id is not None:
        # Most repeats change nothing on the incident: lock it only when the severity rises, so
        # a storm of repeats does not queue every batch behind one incident row.
        current = Incident.objects.filter(pk=alert.incident_id).values("severity", "team_id")[0]
        wanted = severity_for_alert(alert.severity)
        if SEVERITY_RANK[wanted] < SEVERITY_RANK[current["severity"]]:
            incident_raise_severity(
                incident=Incident.objects.select_for_update().get(pk=alert.incident_id),
                severity=wanted,
                reason=f"alert '{alert.name or alert.summary}' is now {alert.severity}",
            )
        incident_changed_on_commit(incident_id=alert.incident_id, team_id=current["team_id"])
    return AlertOutcome(alert.pk, alert.fingerprint, "updated", flapping=alert.flapping)


def _alert_attach(*, alert: Alert, team, at: datetime) -> None:
    """Route, suppress or group a new firing alert: see placement.py."""
    alert_route_and_attach(alert=alert, at=at)


def _alert_join(*, alert: Alert, incident: Incident, at: datetime) -> None:
    placement_join(alert=alert, incident=incident, at=at)


def _alert_resolve(*, integration: Integration, parsed: ParsedAlert, at: datetime) -> AlertOutcome:
    alert = _open_alert(integration, parsed.fingerprint)
    if alert is None:
        # Recorded on the delivery; creates nothing.
        return AlertOutcome(None, parsed.fingerprint, "unknown_resolve")
    if resolve_is_stale(firing_started_at=alert.source_started_at, parsed=parsed):
        # Recorded on the delivery; the alert keeps firing and this is no state change.
        return AlertOutcome(alert.pk, alert.fingerprint, "stale_resolve", flapping=alert.flapping)
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = parsed.ended_at or at
    alert.last_seen = max(alert.last_seen, at)
    flap = flap_record_change(integration=integration, fingerprint=alert.fingerprint, at=at)
    alert.flapping = alert.flapping or flap.flapping
    alert.save(update_fields=["status", "resolved_at", "last_seen", "flapping"])
    incident = None
    if alert.incident_id is not None:
        incident = Incident.objects.get(pk=alert.incident_id)
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.ALERT_RESOLVED,
            message=f"Alert resolved at the source: {alert.summary}",
            at=at,
            data={"alert": alert.pk, "fingerprint": alert.fingerprint},
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    if flap.started:
        _flapping_started(
            alert=alert, incident=incident or _previous_incident(alert), flap=flap, at=at
        )
    return AlertOutcome(alert.pk, alert.fingerprint, "resolved", flapping=flap.flapping)


# --- flapping -------------------------------------------------------------------------------------


def _alert_attach_flapping(*, alert: Alert, flap: FlapChange, at: datetime) -> None:
    """A firing of a flapping fingerprint opens no incident and pages nobody: it joins the
    incident of the fingerprint's previous alert if that is still open, else it stays alone
    until flapping ends (flapping_clear_quiet gives it an incident if it is still firing).
    Paging starts when an incident opens (incident_open starts its escalation), so opening none
    is what keeps it quiet; anything that ever pages per alert must skip `flapping` alerts."""
    alert.flapping = True
    alert.save(update_fields=["flapping"])
    previous = _previous_incident(alert)
    incident = None
    if previous is not None:
        incident = (
            Incident.objects.select_for_update()
            .filter(pk=previous.pk, status__in=OPEN_STATUSES)
            .first()
        )
    if incident is not None:
        _alert_join(alert=alert, incident=incident, at=at)
    if flap.started:
        _flapping_started(alert=alert, incident=incident or previous, flap=flap, at=at)


def _previous_incident(alert: Alert) -> Incident | None:
    return _latest_incident(alert.integration_id, alert.fingerprint, excluding=alert.pk)


def _latest_incident(
    integration_id: int, fingerprint: str, *, excluding: int | None = None
) -> Incident | None:
    """The incident of the fingerprint's latest alert that has one, whatever its state."""
    latest = (
        Alert.objects.filter(
            integration_id=integration_id, fingerprint=fingerprint, incident__isnull=False
        )
        .exclude(pk=excluding)
        .select_related("incident")
        .order_by("-id")
        .first()
    )
    return latest.incident if latest is not None else None


def _flapping_started(
    *, alert: Alert, incident: Incident | None, flap: FlapChange, at: datetime
) -> None:
    # Said once, on the incident the flapping alert belongs to (or last belonged to, if that one
    # is resolved: it explains why no new incident opens).
    if incident is None:
        return
    policy = flap_policy()
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.FLAPPING,
        message=(
            f"Alert '{alert.name or alert.summary}' is flapping ({flap.changes} state changes "
            f"within {_minutes(policy.window)}): it opens no incident and pages nobody until "
            f"it has been quiet for {_minutes(policy.quiet)}"
        ),
        at=at,
        data={"alert": alert.pk, "fingerprint": alert.fingerprint, "flapping": True},
    )
    incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)


def flapping_clear_quiet(*, now: datetime | None = None) -> int:
    """End flapping for the fingerprints that have been quiet for the quiet period: unmark their
    alerts, say so on the incident, and give an alert that settled firing the incident (and the
    page) that flapping held back. Returns how many fingerprints it cleared."""
    now = now or timezone.now()
    policy = flap_policy()
    cleared = 0
    for state in flap_states_quiet(now=now).select_related("integration__team"):
        with transaction.atomic():
            # Alert first, then the state: the order processing locks them in, so the two never
            # wait on each other. A state being changed right now is left for the next sweep.
            alert = _open_alert(state.integration, state.fingerprint)
            locked = (
                FlapState.objects.select_for_update(skip_locked=True)
                .filter(pk=state.pk, flapping=True)
                .first()
            )
            if locked is None or flap_is_flapping(
                flap_state_changes(locked), now=now, was_flapping=True, policy=policy
            ):
                continue
            _flapping_end(state=locked, alert=alert, now=now)
            cleared += 1
    return cleared


def _flapping_end(*, state: FlapState, alert: Alert | None, now: datetime) -> None:
    state.flapping = False
    state.flapping_since = None
    state.save(update_fields=["flapping", "flapping_since"])
    Alert.objects.filter(
        integration_id=state.integration_id, fingerprint=state.fingerprint, flapping=True
    ).update(flapping=False)
    if alert is not None:
        alert.flapping = False
        if alert.incident_id is None:
            # It settled firing: a steady problem now, so it gets its incident like any other.
            _alert_attach(alert=alert, team=state.integration.team, at=now)
    incident = _latest_incident(state.integration_id, state.fingerprint)
    if incident is not None:
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.FLAPPING,
            message=f"Alert stopped flapping: no state change for {_minutes(flap_policy().quiet)}",
            at=now,
            data={"fingerprint": state.fingerprint, "flapping": False},
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)


def _minutes(duration: timedelta) -> str:
    minutes = round(duration.total_seconds() / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _alert_acknowledge(*, integration: Integration, parsed: ParsedAlert) -> AlertOutcome:
    """A source-side acknowledgement (PagerDuty, New Relic, LogicMonitor, Opsgenie) acknowledges
    the alert's incident as the integration. It never reopens or creates anything."""
    alert = _open_alert(integration, parsed.fingerprint)
    if alert is None or alert.incident_id is None:
        return AlertOutcome(alert.pk if alert else None, parsed.fingerprint, "unknown_acknowledge")
    incident = Incident.objects.get(pk=alert.incident_id)
    if incident.status == Status.TRIGGERED:
        incident_transition(
            incident_id=incident.pk,
            to_status=Status.ACKNOWLEDGED,
            via=Via.SYSTEM,
            reason=f"acknowledged in {integration.name}",
        )
    return AlertOutcome(alert.pk, alert.fingerprint, "acknowledged")


def incident_recount(incident: Incident) -> None:
    """Recount the incident's alerts (incidents.merging) and tell the browsers."""
    incident_recount_alerts(incident=incident)
    incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)


def incidents_auto_resolve(*, now: datetime) -> int:
    """Incidents whose alerts all stayed resolved long enough resolve themselves (optional)."""
    from incidents.services import incidents_auto_resolve_due

    return incidents_auto_resolve_due(now=now)


def self_monitor(*, now: datetime) -> str:
    """A stalled escalation sweeper raises an alert of its own (selfmonitor.py)."""
    from .selfmonitor import self_monitor_check

    return self_monitor_check(now=now)
