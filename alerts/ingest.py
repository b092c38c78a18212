"""Processing of accepted deliveries into alerts and incidents (accepting them: accept.py).

Runs after commit, in batches, by a Celery worker (REDIS_URL set) or the background thread of
`manage.py serve`; idempotent, because a batch commits its alerts and marks its deliveries done in
one transaction, so a batch cut short by a crash is simply done again.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from incidents.broadcast import incident_changed_on_commit
from incidents.models import Incident, IncidentEvent, Status, Via
from incidents.services import (
    incident_open_or_join,
    incident_raise_severity,
    incident_transition,
    severity_for_alert,
    timeline_append,
)

from . import sns
from .models import Alert, InboundEvent, Integration
from .payloads import BodyError, decode_body
from .sources import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    SubscriptionConfirmation,
    source_for_kind,
)
from .sources.base import stable_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertOutcome:
    alert_id: int | None
    fingerprint: str
    action: str  # created, updated, resolved, unknown_resolve

    def as_dict(self) -> dict:
        return {"alert": self.alert_id, "fingerprint": self.fingerprint, "action": self.action}


def deliveries_process_pending(*, older_than: timedelta | None = None) -> int:
    """Process pending deliveries in batches until none is left; returns how many were done."""
    done = 0
    while True:
        count = deliveries_process_batch(older_than=older_than)
        done += count
        if count < settings.IOC_PROCESS_BATCH_SIZE:
            return done


def deliveries_process_batch(*, older_than: timedelta | None = None) -> int:
    with transaction.atomic():
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
        for event in events:
            delivery_process(event=event)
    return len(events)


def deliveries_sweep() -> int:
    """Pick up deliveries nobody processed within a minute (a worker died, Redis was down)."""
    return deliveries_process_pending(older_than=timedelta(minutes=1))


def delivery_process(*, event: InboundEvent) -> None:
    """Turn one stored delivery into alerts. A parse error is kept on the delivery, never lost."""
    integration = event.integration
    event.attempts += 1
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


def group_key_for(*, team_id: int, service: str, name: str) -> str:
    """For now one open incident per team, service and alert name."""
    return stable_hash("group", team_id, service, name)


def alert_apply(*, integration: Integration, parsed: ParsedAlert, at: datetime) -> AlertOutcome:
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
                )
        except IntegrityError:
            continue  # another worker created it meanwhile: update theirs
        _alert_attach(alert=alert, team=integration.team, at=at)
        return AlertOutcome(alert.pk, alert.fingerprint, "created")
    raise RuntimeError(f"could not upsert alert {parsed.fingerprint}")


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
    alert.save(update_fields=["count", "last_seen", "severity", "summary", "labels"])
    if alert.incident_id is not None:
        incident = Incident.objects.select_for_update().get(pk=alert.incident_id)
        incident_raise_severity(
            incident=incident,
            severity=severity_for_alert(alert.severity),
            reason=f"alert '{alert.name or alert.summary}' is now {alert.severity}",
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return AlertOutcome(alert.pk, alert.fingerprint, "updated")


def _alert_attach(*, alert: Alert, team, at: datetime) -> None:
    incident, opened = incident_open_or_join(
        team=team,
        group_key=group_key_for(
            team_id=team.pk, service=alert.service, name=alert.name or alert.summary
        ),
        title=alert.summary,
        severity=severity_for_alert(alert.severity),
        service=alert.service,
        at=at,
    )
    if not opened:
        incident_raise_severity(
            incident=incident,
            severity=severity_for_alert(alert.severity),
            reason=f"joined by {alert.severity} alert '{alert.name or alert.summary}'",
        )
    alert.incident = incident
    alert.save(update_fields=["incident"])
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.ALERT_ATTACHED,
        message=f"Alert attached: {alert.summary}"
        + (f" on {alert.source}" if alert.source else ""),
        at=at,
        data={"alert": alert.pk, "fingerprint": alert.fingerprint, "severity": alert.severity},
    )
    _incident_recount(incident)


def _alert_resolve(*, integration: Integration, parsed: ParsedAlert, at: datetime) -> AlertOutcome:
    alert = _open_alert(integration, parsed.fingerprint)
    if alert is None:
        # Recorded on the delivery; creates nothing.
        return AlertOutcome(None, parsed.fingerprint, "unknown_resolve")
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = parsed.ended_at or at
    alert.last_seen = max(alert.last_seen, at)
    alert.save(update_fields=["status", "resolved_at", "last_seen"])
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
    return AlertOutcome(alert.pk, alert.fingerprint, "resolved")


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


def _incident_recount(incident: Incident) -> None:
    """alert_count is derived: counted from the alerts table, never incremented by hand."""
    counted = Alert.objects.filter(incident=incident).aggregate(n=Count("id"))["n"]
    Incident.objects.filter(pk=incident.pk).update(alert_count=counted)
    incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
