"""Processing of accepted deliveries into alerts and incidents (accepting them: accept.py).

Runs after commit, in batches, by a Celery worker (REDIS_URL set) or the background thread of
`manage.py serve`; idempotent, because a batch commits its alerts and marks its deliveries done in
one transaction, so a batch cut short by a crash is simply done again. A batch reads and writes
in bulk (alerts/batch.py): the per-alert functions below change its in-memory state.
"""

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from incidents.broadcast import incident_changed_on_commit
from incidents.models import OPEN_STATUSES, Incident, IncidentEvent, Status, Via
from incidents.services import (
    SEVERITY_RANK,
    incident_raise_severity,
    incident_transition,
    incidents_auto_resolve_due,
    severity_for_alert,
    timeline_append,
)
from incidents.transitions import WorkflowRefused

from . import sns
from .batch import Batch, batch_scope, processing_turn, rows_update
from .catalog import service_discover
from .flapping import (
    FlapChange,
    flap_is_flapping,
    flap_policy,
    flap_state_changes,
    flap_states_prune,
    flap_states_quiet,
)
from .heartbeat import heartbeat_record_ping, heartbeats_check
from .models import Alert, FlapState, InboundEvent, Integration
from .payloads import BodyError, decode_body
from .placement import alert_route_and_attach, placement_join, placement_prefetch
from .retention import deliveries_prune
from .selfmonitor import self_monitor_check
from .sources import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    SubscriptionConfirmation,
    source_for_kind,
)
from .suppression import silences_handle_ended

log = logging.getLogger(__name__)

# A delivery whose processing met a database error (a deadlock, a dropped connection) is tried
# again this many times in all before it is marked failed with the error.
DATABASE_ERROR_ATTEMPTS = 5

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


def deliveries_process_batch(*, older_than: timedelta | None = None) -> int:
    """Process one batch of pending deliveries with bulk statements. Should a delivery hit an
    error that is not its payload's fault (a lock conflict, a bug of ours), the batch is rolled
    back and done again one delivery at a time, each in its own savepoint, so the others still
    go through and that one keeps its error."""
    try:
        return _batch_process(older_than=older_than, careful=False)
    except Exception:
        log.warning("batch rolled back; processing its deliveries one at a time", exc_info=True)
        return _batch_process(older_than=older_than, careful=True)


def _batch_process(*, older_than: timedelta | None, careful: bool) -> int:
    with transaction.atomic():
        processing_turn()
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
        components: set[tuple[str, str]] = set()
        if careful:
            for event in events:
                components |= _delivery_process_alone(event)
        else:
            components = _deliveries_process_together(events)
        rows_update(InboundEvent, events, ["status", "error", "result", "processed_at", "attempts"])
        # The service catalog learns of new services and hosts once per batch.
        if components:
            service_discover(names_and_kinds=components, at=timezone.now())
    return len(events)


def _deliveries_process_together(events: list[InboundEvent]) -> set[tuple[str, str]]:
    parsed: dict[int, list[ParsedAlert]] = {}
    for event in events:
        event.attempts += 1
        try:
            parsed[event.pk] = _delivery_parse(event)
        except Exception as exc:
            _delivery_refused(event, exc)
    with batch_scope() as batch:
        batch.load(
            (event.integration_id, item.fingerprint)
            for event in events
            for item in parsed.get(event.pk, ())
        )
        placement_prefetch(
            batch,
            (
                (event.integration, item)
                for event in events
                for item in parsed.get(event.pk, ())
                if item.status == "firing"
                and batch.open_alert(event.integration_id, item.fingerprint) is None
            ),
        )
        for event in events:
            if event.pk in parsed:
                _delivery_done(event, _delivery_apply(event, parsed[event.pk]))
        return batch.components


def _delivery_process_alone(event: InboundEvent) -> set[tuple[str, str]]:
    event.attempts += 1
    try:
        with transaction.atomic(), batch_scope() as batch:
            outcomes = _delivery_apply(event, _delivery_parse(event))
    except OperationalError as exc:
        if event.attempts >= DATABASE_ERROR_ATTEMPTS:
            _delivery_refused(event, exc)
            return set()
        # The database's trouble (a lost lock race, a dropped connection), not the delivery's:
        # it stays pending for the next batch or the sweep, a few times at most.
        log.warning("delivery %s left pending after a database error: %s", event.pk, exc)
        event.error = f"will retry: {str(exc).strip().splitlines()[0]}"
        return set()
    except Exception as exc:
        _delivery_refused(event, exc)
        return set()
    _delivery_done(event, outcomes)
    return batch.components


def deliveries_sweep() -> int:
    """The periodic sweep (every 10 s): deliveries nobody processed within a minute (a worker
    died, Redis was down), then overdue heartbeats, flapping gone quiet and, once a minute,
    retention. Returns how many deliveries it processed."""
    done = deliveries_process_pending(older_than=timedelta(minutes=1))
    parts = [
        heartbeats_check,
        flapping_clear_quiet,
        silences_handle_ended,
        incidents_auto_resolve_due,
        self_monitor_check,
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


def _delivery_parse(event: InboundEvent) -> list[ParsedAlert]:
    payload = decode_body(event.body.encode("utf-8"), event.content_type)
    integration = event.integration
    return source_for_kind(integration.kind).parse(
        payload, event.headers, config=integration.config
    )


def _delivery_apply(event: InboundEvent, parsed: list[ParsedAlert]) -> list[AlertOutcome]:
    integration = event.integration
    outcomes = [
        alert_apply(integration=integration, parsed=item, at=event.received_at) for item in parsed
    ]
    if integration.kind == Integration.Kind.HEARTBEAT:
        heartbeat_record_ping(integration=integration, at=event.received_at)
    return outcomes


def _delivery_done(event: InboundEvent, outcomes: list[AlertOutcome]) -> None:
    event.status = InboundEvent.Status.PROCESSED
    event.error = ""
    event.result = {"alerts": [outcome.as_dict() for outcome in outcomes]}
    event.processed_at = timezone.now()


def _delivery_refused(event: InboundEvent, exc: Exception) -> None:
    """A delivery that yields no alerts: ignored, a subscription to confirm, or failed with its
    error kept on it (a payload error, or a bug of ours): stored with its body, never lost."""
    event.status = InboundEvent.Status.PROCESSED
    event.error = ""
    if isinstance(exc, IgnoredPayload):
        event.result = {"ignored": exc.reason}
    elif isinstance(exc, SubscriptionConfirmation):
        # Confirmed here, after the webhook answered, and only with an allowed AWS host.
        event.result = {
            "subscription_confirmation": exc.topic_arn,
            **sns.sns_confirm_subscription(subscribe_url=exc.subscribe_url),
        }
    elif isinstance(exc, (PayloadError, BodyError)):
        event.status = InboundEvent.Status.FAILED
        event.error = str(exc)
    else:
        log.error("processing delivery %s failed", event.pk, exc_info=exc)
        event.status = InboundEvent.Status.FAILED
        event.error = f"internal error: {type(exc).__name__}: {exc}"
    event.processed_at = timezone.now()


def alert_apply(*, integration: Integration, parsed: ParsedAlert, at: datetime) -> AlertOutcome:
    """Apply one parsed alert inside the current batch (alerts/batch.py)."""
    with batch_scope() as batch:
        if parsed.status != "resolved":
            if parsed.service:
                batch.components.add((parsed.service, "service"))
            if parsed.source:
                batch.components.add((parsed.source, "host"))
        alert = batch.open_alert(integration.pk, parsed.fingerprint)
        if parsed.status == "resolved":
            return _alert_resolve(batch, alert=alert, parsed=parsed, at=at)
        if parsed.status == "acknowledged":
            return _alert_acknowledge(batch, alert=alert, integration=integration, parsed=parsed)
        if alert is not None:
            return _alert_repeat(batch, alert=alert, parsed=parsed, integration=integration, at=at)
        return _alert_create(batch, integration=integration, parsed=parsed, at=at)


def _alert_create(
    batch: Batch, *, integration: Integration, parsed: ParsedAlert, at: datetime
) -> AlertOutcome:
    # No savepoint and no conflict handling: under the processing turn nobody else creates
    # alerts, and the batch knows every open alert of its fingerprints.
    batch.before_create(integration.pk, parsed.fingerprint)
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
    batch.alert_created(alert)
    flap = batch.flap_change(integration_id=integration.pk, fingerprint=alert.fingerprint, at=at)
    if flap.flapping:
        _alert_attach_flapping(batch, alert=alert, flap=flap, at=at)
    else:
        alert_route_and_attach(alert=alert, at=at)
    return AlertOutcome(alert.pk, alert.fingerprint, "created", flapping=flap.flapping)


def resolve_is_stale(*, firing_started_at: datetime | None, parsed: ParsedAlert) -> bool:
    """A resolve older than the current firing, by the source's own clock, belongs to an earlier
    firing and arrived late (deliveries can overtake each other). Without times on either side
    there is nothing to compare, and the resolve applies."""
    resolved_at = parsed.ended_at or parsed.started_at
    if firing_started_at is None or resolved_at is None:
        return False
    return resolved_at < firing_started_at


def _alert_repeat(
    batch: Batch, *, alert: Alert, parsed: ParsedAlert, integration: Integration, at: datetime
) -> AlertOutcome:
    alert.count += 1
    alert.last_seen = max(alert.last_seen, at)
    alert.severity = parsed.severity or integration.default_severity
    alert.summary = parsed.summary
    alert.labels = dict(parsed.labels)
    batch.alert_changed(alert, "count", "last_seen", "severity", "summary", "labels")
    # The source fired again (its resolve may still be on the way): resolves older than this
    # firing are stale from now on.
    if parsed.started_at is not None and (
        alert.source_started_at is None or parsed.started_at > alert.source_started_at
    ):
        alert.source_started_at = parsed.started_at
        batch.alert_changed(alert, "source_started_at")
    if alert.incident_id is not None:
        # Most repeats change nothing on the incident: it is locked only when the severity
        # rises, so a storm of repeats does not queue behind one incident row.
        facts = batch.incident_facts(alert.incident_id)
        wanted = severity_for_alert(alert.severity)
        if SEVERITY_RANK[wanted] < SEVERITY_RANK[facts["severity"]]:
            batch.flush()  # the timeline keeps its order
            # Re-checked under the lock: a person may have resolved it meanwhile, and a closed
            # incident must not turn major (that mails stakeholders).
            incident = (
                Incident.objects.select_for_update()
                .filter(pk=alert.incident_id, status__in=OPEN_STATUSES)
                .first()
            )
            if incident is not None:
                incident_raise_severity(
                    incident=incident,
                    severity=wanted,
                    reason=f"alert '{alert.name or alert.summary}' is now {alert.severity}",
                )
                batch.incident_severity_raised(incident)
        batch.incident_changed(incident_id=alert.incident_id, team_id=facts["team_id"])
    return AlertOutcome(alert.pk, alert.fingerprint, "updated", flapping=alert.flapping)


def _alert_resolve(
    batch: Batch, *, alert: Alert | None, parsed: ParsedAlert, at: datetime
) -> AlertOutcome:
    if alert is None:
        # Recorded on the delivery; creates nothing.
        return AlertOutcome(None, parsed.fingerprint, "unknown_resolve")
    if resolve_is_stale(firing_started_at=alert.source_started_at, parsed=parsed):
        # Recorded on the delivery; the alert keeps firing and this is no state change.
        return AlertOutcome(alert.pk, alert.fingerprint, "stale_resolve", flapping=alert.flapping)
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = parsed.ended_at or at
    alert.last_seen = max(alert.last_seen, at)
    flap = batch.flap_change(
        integration_id=alert.integration_id, fingerprint=alert.fingerprint, at=at
    )
    alert.flapping = alert.flapping or flap.flapping
    batch.alert_changed(alert, "status", "resolved_at", "last_seen", "flapping")
    batch.alert_closed(alert)
    incident_id = alert.incident_id
    if incident_id is not None:
        batch.timeline(
            incident_id=incident_id,
            kind=IncidentEvent.Kind.ALERT_RESOLVED,
            message=f"Alert resolved at the source: {alert.summary}",
            at=at,
            data={"alert": alert.pk, "fingerprint": alert.fingerprint},
        )
        facts = batch.incident_facts(incident_id)
        batch.incident_changed(incident_id=incident_id, team_id=facts["team_id"])
    if flap.started:
        _flapping_started(
            batch,
            alert=alert,
            incident_id=incident_id or _previous_incident_id(batch, alert),
            flap=flap,
            at=at,
        )
    return AlertOutcome(alert.pk, alert.fingerprint, "resolved", flapping=flap.flapping)


# --- flapping -------------------------------------------------------------------------------------


def _alert_attach_flapping(batch: Batch, *, alert: Alert, flap: FlapChange, at: datetime) -> None:
    """A firing of a flapping fingerprint opens no incident and pages nobody: it joins the
    incident of the fingerprint's previous alert if that is still open, else it stays alone
    until flapping ends (flapping_clear_quiet gives it an incident if it is still firing).
    Paging starts when an incident opens (incident_open starts its escalation), so opening none
    is what keeps it quiet; anything that ever pages per alert must skip `flapping` alerts."""
    alert.flapping = True
    batch.alert_changed(alert, "flapping")
    previous_id = _previous_incident_id(batch, alert)
    incident = None
    if previous_id is not None:
        incident = (
            Incident.objects.select_for_update()
            .filter(pk=previous_id, status__in=OPEN_STATUSES)
            .first()
        )
    if incident is not None:
        placement_join(alert=alert, incident=incident, at=at)
    if flap.started:
        _flapping_started(batch, alert=alert, incident_id=previous_id, flap=flap, at=at)


def _previous_incident_id(batch: Batch, alert: Alert) -> int | None:
    """The incident of the fingerprint's previous alert: known to the batch if it resolved that
    alert, else already in the database."""
    closed = batch.closed_alert(alert.integration_id, alert.fingerprint)
    if closed is not None and closed.pk != alert.pk and closed.incident_id is not None:
        return closed.incident_id
    incident = _latest_incident(alert.integration_id, alert.fingerprint, excluding=alert.pk)
    return incident.pk if incident is not None else None


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
    batch: Batch, *, alert: Alert, incident_id: int | None, flap: FlapChange, at: datetime
) -> None:
    # Said once, on the incident the flapping alert belongs to (or last belonged to, if that one
    # is resolved: it explains why no new incident opens).
    if incident_id is None:
        return
    policy = flap_policy()
    batch.timeline(
        incident_id=incident_id,
        kind=IncidentEvent.Kind.FLAPPING,
        message=(
            f"Alert '{alert.name or alert.summary}' is flapping ({flap.changes} state changes "
            f"within {_minutes(policy.window)}): it opens no incident and pages nobody until "
            f"it has been quiet for {_minutes(policy.quiet)}"
        ),
        at=at,
        data={"alert": alert.pk, "fingerprint": alert.fingerprint, "flapping": True},
    )
    facts = batch.incident_facts(incident_id)
    batch.incident_changed(incident_id=incident_id, team_id=facts["team_id"])


def flapping_clear_quiet(*, now: datetime | None = None) -> int:
    """End flapping for the fingerprints that have been quiet for the quiet period: unmark their
    alerts, say so on the incident, and give an alert that settled firing the incident (and the
    page) that flapping held back. Returns how many fingerprints it cleared."""
    now = now or timezone.now()
    policy = flap_policy()
    cleared = 0
    for state in flap_states_quiet(now=now):
        with transaction.atomic():
            processing_turn()
            # Alert first, then the state: the order processing locks them in.
            alert = (
                Alert.objects.select_for_update(of=("self",))
                .select_related("integration__team")  # placement reads both
                .filter(integration_id=state.integration_id, fingerprint=state.fingerprint)
                .exclude(status=Alert.Status.RESOLVED)
                .first()
            )
            locked = (
                FlapState.objects.select_for_update().filter(pk=state.pk, flapping=True).first()
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
            alert_route_and_attach(alert=alert, at=now)
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


def _alert_acknowledge(
    batch: Batch, *, alert: Alert | None, integration: Integration, parsed: ParsedAlert
) -> AlertOutcome:
    """A source-side acknowledgement (PagerDuty, New Relic, LogicMonitor, Opsgenie) acknowledges
    the alert's incident as the integration. It never reopens or creates anything."""
    if alert is None or alert.incident_id is None:
        return AlertOutcome(alert.pk if alert else None, parsed.fingerprint, "unknown_acknowledge")
    batch.flush()
    # The transition decides under the incident's lock: from triggered it acknowledges, on an
    # acknowledged incident it stops a re-triggered escalation, and an incident already further
    # on (or resolved) is left as it is.
    with contextlib.suppress(WorkflowRefused):  # TransitionNotAllowed is one too
        incident_transition(
            incident_id=alert.incident_id,
            to_status=Status.ACKNOWLEDGED,
            via=Via.SYSTEM,
            reason=f"acknowledged in {integration.name}",
        )
    return AlertOutcome(alert.pk, alert.fingerprint, "acknowledged")
