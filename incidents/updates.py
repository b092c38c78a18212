"""Declaring incidents by hand, severity changes, notes and stakeholder status updates."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from teams.models import Team

from .broadcast import incident_changed_on_commit
from .models import MAJOR_SEVERITIES, Incident, IncidentEvent, Severity, StatusUpdate
from .services import incident_open, incident_severity_set, timeline_append
from .transitions import WorkflowRefused

log = logging.getLogger(__name__)

# Shown in the UI next to the severity picker: what each level means on this floor.
SEVERITY_DEFINITIONS = {
    Severity.SEV1: "Critical business impact: payments or logins down for many customers, data "
    "at risk. All hands; stakeholders informed every 30 minutes.",
    Severity.SEV2: "Major impact: a core service degraded or down for some customers, no "
    "workaround. Incident commander required; regular stakeholder updates.",
    Severity.SEV3: "Minor impact: a service degraded with a workaround, or redundancy lost. "
    "Owning team works it during its shift.",
    Severity.SEV4: "Low impact: no customer impact yet; warnings and housekeeping.",
}


def incident_declare(
    *,
    team: Team,
    title: str,
    severity: str,
    actor,
    via: str,
    description: str = "",
    service: str = "",
) -> Incident:
    """Open an incident by hand: the floor takes phone calls and chat messages, not only alerts.
    A person may declare any severity, SEV1 included."""
    title = (title or "").strip()
    if not title:
        raise WorkflowRefused("an incident needs a title")
    if severity not in Severity.values:
        raise WorkflowRefused(f"severity must be one of {', '.join(Severity.values)}")
    with transaction.atomic():
        incident = incident_open(
            team=team, title=title, severity=severity, service=service, actor=actor, via=via
        )
        incident.declared_by = actor
        incident.description = description
        incident.save(update_fields=["declared_by", "description", "updated_at"])
        if incident.is_major:
            incident_became_major(incident=incident, actor=actor, via=via)
    return incident


def incident_change_severity(
    *, incident_id: int, severity: str, reason: str, actor, via: str
) -> Incident:
    """A person changes the severity, up or down, with a reason."""
    reason = (reason or "").strip()
    if severity not in Severity.values:
        raise WorkflowRefused(f"severity must be one of {', '.join(Severity.values)}")
    if not reason:
        raise WorkflowRefused("changing the severity needs a reason")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if incident.severity == severity:
            return incident
        if not incident.is_open:
            raise WorkflowRefused(f"an incident that is {incident.status} keeps its severity")
        incident_severity_set(
            incident=incident, severity=severity, reason=reason, actor=actor, via=via
        )
    return incident


def incident_became_major(*, incident: Incident, actor=None, via: str = "system") -> None:
    """A major incident needs a commander and owes stakeholders updates: start the clock and
    tell them."""
    incident.next_status_update_at = timezone.now() + timedelta(
        minutes=settings.IOC_STATUS_UPDATE_MINUTES
    )
    incident.save(update_fields=["next_status_update_at", "updated_at"])
    _notify_stakeholders(
        incident=incident,
        subject=f"[IOC] {incident.severity} #{incident.number}: {incident.title}",
        body=(
            f"Major incident #{incident.number} ({incident.severity}) owned by "
            f"{incident.team.name}:\n\n{incident.title}\n\n{incident.description}".rstrip()
        ),
        actor=actor,
        via=via,
    )


def _notify_stakeholders(*, incident: Incident, subject: str, body: str, actor, via: str) -> None:
    recipients = list(settings.IOC_STAKEHOLDER_EMAILS)
    if not recipients:
        return
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.NOTIFICATION,
        message=f"Stakeholders notified: {', '.join(recipients)}",
        actor=actor,
        via=via,
        data={"channel": "email", "to": recipients, "subject": subject},
    )

    def send():
        try:
            send_mail(subject, body, None, recipients)
        except Exception:
            # The escalation engine owns retries; a stakeholder mail must never undo the work.
            log.warning("stakeholder mail for incident %s failed", incident.pk, exc_info=True)

    transaction.on_commit(send)


def incident_add_note(*, incident_id: int, body: str, actor, via: str) -> Incident:
    body = (body or "").strip()
    if not body:
        raise WorkflowRefused("a note needs some text")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.NOTE,
            message=body[:10_000],
            actor=actor,
            via=via,
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return incident


def incident_post_status_update(*, incident_id: int, body: str, actor, via: str) -> StatusUpdate:
    """A stakeholder update: recorded, sent to the stakeholder list, and for a major incident
    the next one falls due a cadence later."""
    body = (body or "").strip()
    if not body:
        raise WorkflowRefused("a status update needs some text")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().select_related("team").get(pk=incident_id)
        now = timezone.now()
        update = StatusUpdate.objects.create(incident=incident, body=body, author=actor, at=now)
        if incident.is_major and incident.is_open:
            incident.next_status_update_at = now + timedelta(
                minutes=settings.IOC_STATUS_UPDATE_MINUTES
            )
            incident.save(update_fields=["next_status_update_at", "updated_at"])
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.STATUS_UPDATE,
            message=f"Status update: {body[:2000]}",
            actor=actor,
            via=via,
            at=now,
            data={"status_update": update.pk},
        )
        _notify_stakeholders(
            incident=incident,
            subject=f"[IOC] Update on #{incident.number}: {incident.title}",
            body=body,
            actor=actor,
            via=via,
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return update


def status_update_overdue(*, incident: Incident, now=None) -> bool:
    """A major, open incident whose stakeholder update is past due."""
    now = now or timezone.now()
    return (
        incident.severity in MAJOR_SEVERITIES
        and incident.is_open
        and incident.next_status_update_at is not None
        and incident.next_status_update_at < now
    )
