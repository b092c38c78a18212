"""Sending notifications: claim one due row, send it while holding the row lock, record the
outcome, all in one transaction. Killed before the send: the row stays pending and the next worker
sends it (once). Killed after the send but before the commit: it is sent again with the same key
(at most twice), and receivers drop the repeat by its key (Idempotency-Key, Message-ID).
"""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .escalation_engine import escalations_ack_timeouts_due, escalations_run_due
from .escalation_models import Escalation, Notification
from .models import IncidentEvent, Status
from .services import timeline_append


def _message_for(notification: Notification):
    from .notify import Message

    incident = notification.incident
    if notification.purpose == "resolved":
        subject = f"[IOC] Resolved #{incident.number}: {incident.title}"
        text = f"Incident #{incident.number} is resolved: {incident.title}"
    else:
        subject = f"[IOC] {incident.severity} #{incident.number}: {incident.title}"
        text = (
            f"{incident.severity} incident #{incident.number} for {incident.team.name}: "
            f"{incident.title}"
        )
    return Message(
        key=notification.key,
        channel=notification.channel,
        address=notification.address,
        subject=subject,
        text=text,
        incident_number=incident.number,
        incident_url=f"{settings.IOC_BASE_URL}/incidents/{incident.pk}/",
        severity=incident.severity,
        title=incident.title,
        status=incident.status,
        incident_id=incident.pk,
    )


def _still_wanted(notification: Notification) -> bool:
    """A delayed personal-rule page is dropped once the incident is acknowledged or resolved."""
    if notification.purpose != "page":
        return True
    incident = notification.incident
    return incident.status == Status.TRIGGERED or (
        incident.is_open
        and Escalation.objects.filter(
            incident=incident, state=Escalation.State.ACTIVE, run=notification.run
        ).exists()
    )


def notification_deliver_one(*, now: datetime | None = None) -> bool:
    """Claim one due notification, send it while holding its row lock, record the outcome.
    Returns False when nothing was due."""
    from .notify import deliver, retry_delay

    now = now or timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident__team")
            .filter(status=Notification.Status.PENDING, due_at__lte=now)
            .order_by("due_at", "id")
            .first()
        )
        if notification is None:
            return False
        if not _still_wanted(notification):
            notification.status = Notification.Status.CANCELLED
            notification.save(update_fields=["status"])
            return True
        result = deliver(_message_for(notification))
        notification.attempts += 1
        # Never the address of a webhook on the timeline: the URL is its secret.
        who = notification.user.get_username() if notification.user else "the outgoing webhook"
        if result.ok:
            notification.status = Notification.Status.SENT
            notification.sent_at = timezone.now()
            notification.last_error = ""
            outcome = f"Notified {who} by {notification.channel}"
        elif result.permanent or notification.attempts >= settings.IOC_NOTIFY_MAX_ATTEMPTS:
            notification.status = Notification.Status.FAILED
            notification.last_error = result.error[:2000]
            outcome = f"Notification to {who} by {notification.channel} failed: {result.error}"
        else:
            notification.last_error = result.error[:2000]
            notification.due_at = now + retry_delay(
                notification.attempts, getattr(result, "retry_after", None)
            )
            notification.save(update_fields=["attempts", "last_error", "due_at"])
            return True
        notification.save(update_fields=["status", "sent_at", "last_error", "attempts"])
        timeline_append(
            incident=notification.incident,
            kind=IncidentEvent.Kind.NOTIFICATION,
            message=outcome[:2000],
            data={
                "notification": notification.pk,
                "key": notification.key,
                "channel": notification.channel,
                "status": notification.status,
                "purpose": notification.purpose,
            },
        )
    return True


def notifications_deliver_due(*, limit: int = 500) -> int:
    sent = 0
    while sent < limit and notification_deliver_one():
        sent += 1
    return sent


def escalations_sweep() -> dict:
    """One pass of the escalation engine: due steps, acknowledgement timeouts, due sends."""
    from .models import Counter

    result = {
        "steps": escalations_run_due(),
        "retriggered": escalations_ack_timeouts_due(),
        "sent": notifications_deliver_due(),
    }
    # The sweeper's heartbeat, for /healthz: the last time a sweep finished.
    Counter.objects.update_or_create(
        name="escalation_sweep_at", defaults={"value": int(timezone.now().timestamp())}
    )
    return result
