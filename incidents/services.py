"""Writes to incidents. Each state change locks the row, checks the move, writes, appends to the
timeline and broadcasts after commit."""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from teams.models import Team

from . import transitions
from .broadcast import incident_changed_on_commit
from .models import OPEN_STATUSES, Counter, Incident, IncidentEvent, Severity, Status, Via

# On open: critical -> SEV2, high -> SEV3, warning and info -> SEV4. SEV1 only by a person or route.
SEVERITY_FOR_ALERT = {
    "critical": Severity.SEV2,
    "high": Severity.SEV3,
    "warning": Severity.SEV4,
    "info": Severity.SEV4,
}
SEVERITY_RANK = {Severity.SEV1: 1, Severity.SEV2: 2, Severity.SEV3: 3, Severity.SEV4: 4}


def severity_for_alert(alert_severity: str) -> str:
    return SEVERITY_FOR_ALERT.get(alert_severity, Severity.SEV4)


def timeline_append(
    *,
    incident: Incident,
    kind: str,
    message: str,
    actor=None,
    via: str = Via.SYSTEM,
    data: dict | None = None,
    at: datetime | None = None,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        kind=kind,
        message=message,
        actor=actor if actor is not None and actor.is_authenticated else None,
        via=via,
        data=data or {},
        at=at or timezone.now(),
    )


def counter_next(*, name: str) -> int:
    """The next value of a named counter; the row lock serialises concurrent callers."""
    with transaction.atomic():
        Counter.objects.get_or_create(name=name)
        Counter.objects.filter(name=name).update(value=F("value") + 1)
        return Counter.objects.select_for_update().get(name=name).value


def incident_open(
    *,
    team: Team,
    title: str,
    severity: str,
    service: str = "",
    group_key: str = "",
    actor=None,
    via: str = Via.SYSTEM,
    at: datetime | None = None,
) -> Incident:
    at = at or timezone.now()
    with transaction.atomic():
        incident = Incident.objects.create(
            number=counter_next(name="incident_number"),
            title=title[:500],
            severity=severity,
            team=team,
            service=service,
            group_key=group_key,
            opened_at=at,
        )
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.OPENED,
            message=f"Opened as {severity} for {team.name}",
            actor=actor,
            via=via,
            at=at,
            data={"severity": severity, "team": team.slug},
        )
    incident_changed_on_commit(incident_id=incident.pk, team_id=team.pk)
    return incident


def incident_open_or_join(
    *, team: Team, group_key: str, title: str, severity: str, service: str, at: datetime
) -> tuple[Incident, bool]:
    """The open incident for a group key, locked; opened if there is none. Race-safe: the
    database allows one open incident per group key, and a loser of the race joins the winner."""
    for _attempt in range(3):
        incident = (
            Incident.objects.select_for_update()
            .filter(group_key=group_key, status__in=OPEN_STATUSES)
            .first()
        )
        if incident is not None:
            return incident, False
        try:
            with transaction.atomic():
                return (
                    incident_open(
                        team=team,
                        title=title,
                        severity=severity,
                        service=service,
                        group_key=group_key,
                        at=at,
                    ),
                    True,
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"could not open or join an incident for group {group_key}")


def incident_raise_severity(
    *, incident: Incident, severity: str, reason: str, actor=None, via: str = Via.SYSTEM
) -> bool:
    """Raise, never lower: a joining alert can make an incident more severe, not less."""
    if SEVERITY_RANK[severity] >= SEVERITY_RANK[incident.severity]:
        return False
    previous = incident.severity
    incident.severity = severity
    incident.save(update_fields=["severity", "updated_at"])
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.SEVERITY_CHANGED,
        message=f"Severity raised from {previous} to {severity}: {reason}",
        actor=actor,
        via=via,
        data={"from": previous, "to": severity, "reason": reason},
    )
    incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return True


@dataclass(frozen=True)
class TransitionOutcome:
    incident: Incident
    changed: bool


def incident_transition(
    *, incident_id: int, to_status: str, actor=None, via: str, reason: str = ""
) -> TransitionOutcome:
    """Move an incident to another state under a row lock. Repeating the current state is a
    no-op; a forbidden move raises TransitionNotAllowed."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if not transitions.check(incident.status, to_status):
            return TransitionOutcome(incident, changed=False)
        now = timezone.now()
        previous = incident.status
        incident.status = to_status
        fields = ["status", "updated_at"]
        # Resolving without an acknowledgement leaves acknowledged_at empty: MTTA counts people.
        acknowledging = to_status not in (Status.TRIGGERED, Status.RESOLVED, Status.CLOSED)
        if incident.acknowledged_at is None and acknowledging:
            incident.acknowledged_at = now
            incident.acknowledged_by = actor if actor and actor.is_authenticated else None
            fields += ["acknowledged_at", "acknowledged_by"]
        if to_status == Status.RESOLVED:
            incident.resolved_at = now
            incident.resolved_by = actor if actor and actor.is_authenticated else None
            fields += ["resolved_at", "resolved_by"]
        incident.save(update_fields=fields)
        who = actor.get_username() if actor and actor.is_authenticated else "the system"
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.STATUS_CHANGED,
            message=f"{to_status.capitalize()} by {who}" + (f": {reason}" if reason else ""),
            actor=actor,
            via=via,
            at=now,
            data={"from": previous, "to": to_status, "reason": reason},
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return TransitionOutcome(incident, changed=True)


def incident_acknowledge(*, incident_id: int, actor, via: str) -> TransitionOutcome:
    return incident_transition(
        incident_id=incident_id, to_status=Status.ACKNOWLEDGED, actor=actor, via=via
    )


def incident_resolve(*, incident_id: int, actor, via: str) -> TransitionOutcome:
    return incident_transition(
        incident_id=incident_id, to_status=Status.RESOLVED, actor=actor, via=via
    )
