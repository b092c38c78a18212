"""Writes to incidents. Each state change locks the row, checks the move, writes, appends to the
timeline and broadcasts after commit."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from teams.models import Team

from . import transitions
from .broadcast import incident_changed_on_commit
from .models import (
    MAJOR_SEVERITIES,
    OPEN_STATUSES,
    Counter,
    Incident,
    IncidentEvent,
    ResolutionCode,
    Severity,
    Status,
    Via,
)
from .transitions import WorkflowRefused

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
    alert_name: str = "",
    actor=None,
    via: str = Via.SYSTEM,
    at: datetime | None = None,
    escalation_policy_id: int | None = None,
    escalation_delay_seconds: float | None = None,
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
        from .checklists import checklist_apply_runbooks
        from .escalation_engine import escalation_start

        checklist_apply_runbooks(incident=incident, alert_name=alert_name)

        # A route may choose the policy and hold the first step (its group wait), so a burst
        # lands in one incident before anyone is paged.
        policy = None
        if escalation_policy_id is not None:
            from .escalation_models import EscalationPolicy

            policy = EscalationPolicy.objects.filter(pk=escalation_policy_id).first()
        delay = (
            settings.IOC_ESCALATION_DELAY_SECONDS
            if escalation_delay_seconds is None
            else escalation_delay_seconds
        )
        escalation_start(incident=incident, policy=policy, delay_seconds=delay)
        if incident.is_major and actor is None:
            # Opened as SEV1/SEV2 by alerts: start the stakeholder clock (a person declaring
            # by hand goes through incident_declare, which does the same).
            from .updates import incident_became_major

            incident_became_major(incident=incident, via=via)
    incident_changed_on_commit(incident_id=incident.pk, team_id=team.pk)
    return incident


def group_window_over(incident: Incident, at: datetime, window_minutes: int) -> bool:
    """An incident of a group with a window stops collecting alerts that long after it opened."""
    return bool(window_minutes) and incident.opened_at < at - timedelta(minutes=window_minutes)


def incident_open_or_join(
    *,
    team: Team,
    group_key: str,
    title: str,
    severity: str,
    service: str,
    at: datetime,
    alert_name: str = "",
    window_minutes: int = 0,
    escalation_policy_id: int | None = None,
    escalation_delay_seconds: float | None = None,
) -> tuple[Incident, bool]:
    """The open incident for a group key, locked; opened if there is none. Race-safe: the
    database allows one open incident per group key, and a loser of the race joins the winner.
    With a window, an open incident of the group opened longer ago than that stops collecting
    alerts (its group key is cleared) and a new one opens."""
    for _attempt in range(3):
        incident = (
            Incident.objects.select_for_update()
            .filter(group_key=group_key, status__in=OPEN_STATUSES)
            .first()
        )
        if incident is not None and group_window_over(incident, at, window_minutes):
            Incident.objects.filter(pk=incident.pk).update(group_key="")
            incident = None
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
                        alert_name=alert_name,
                        at=at,
                        escalation_policy_id=escalation_policy_id,
                        escalation_delay_seconds=escalation_delay_seconds,
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
    incident_severity_set(
        incident=incident, severity=severity, reason=reason, actor=actor, via=via, verb="raised"
    )
    return True


def incident_severity_set(
    *, incident: Incident, severity: str, reason: str, actor, via: str, verb: str = "changed"
) -> None:
    """Set the severity of a locked incident, say so on the timeline, and start what a major
    incident owes (a commander, stakeholder updates) when it has just become one."""
    previous = incident.severity
    incident.severity = severity
    incident.save(update_fields=["severity", "updated_at"])
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.SEVERITY_CHANGED,
        message=f"Severity {verb} from {previous} to {severity}: {reason}",
        actor=actor,
        via=via,
        data={"from": previous, "to": severity, "reason": reason},
    )
    if incident.is_major and previous not in MAJOR_SEVERITIES:
        from .updates import incident_became_major

        incident_became_major(incident=incident, actor=actor, via=via)
    incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)


@dataclass(frozen=True)
class TransitionOutcome:
    incident: Incident
    changed: bool


@dataclass(frozen=True)
class Resolution:
    """What resolving requires: who fixed it, how, and a short summary."""

    team: Team
    code: str = ResolutionCode.UNSPECIFIED
    summary: str = ""


def _person(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _check_workflow_rules(
    *, incident: Incident, to_status: str, actor, resolution: Resolution | None
) -> None:
    """The rules of the IOC's procedure beyond the table of moves."""
    people_only = to_status in (
        Status.INVESTIGATING,
        Status.IDENTIFIED,
        Status.MITIGATED,
        Status.RESOLVED,
    )
    if incident.is_major and people_only and _person(actor) and incident.commander_id is None:
        raise WorkflowRefused(
            f"{incident.severity} is a major incident: assign an incident commander first"
        )
    if to_status == Status.RESOLVED and resolution is None:
        raise WorkflowRefused("resolving needs the resolving team and a resolution code")
    if to_status == Status.CLOSED:
        from .postmortems import postmortem_blocks_close

        reason = postmortem_blocks_close(incident=incident)
        if reason:
            raise WorkflowRefused(reason)


def incident_transition(
    *,
    incident_id: int,
    to_status: str,
    actor=None,
    via: str,
    reason: str = "",
    reopen: bool = False,
    resolution: Resolution | None = None,
) -> TransitionOutcome:
    """Move an incident to another state under a row lock. Repeating the current state is a
    no-op; a forbidden move raises TransitionNotAllowed, a move the procedure refuses
    WorkflowRefused (both answered 409)."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if not transitions.check(incident.status, to_status, reopen=reopen):
            if to_status == Status.ACKNOWLEDGED:
                _acknowledge_again(incident=incident, actor=actor, via=via)
            return TransitionOutcome(incident, changed=False)
        _check_workflow_rules(
            incident=incident, to_status=to_status, actor=actor, resolution=resolution
        )
        now = timezone.now()
        previous = incident.status
        incident.status = to_status
        data = {"from": previous, "to": to_status, "reason": reason}
        # Resolving without an acknowledgement leaves acknowledged_at empty: MTTA counts people.
        acknowledging = to_status not in (Status.TRIGGERED, Status.RESOLVED, Status.CLOSED)
        if incident.acknowledged_at is None and acknowledging:
            incident.acknowledged_at = now
            incident.acknowledged_by = _person(actor)
        if to_status == Status.RESOLVED:
            incident.resolved_at = now
            incident.resolved_by = _person(actor)
            incident.resolving_team = resolution.team
            incident.resolution_code = resolution.code
            incident.resolution_summary = resolution.summary
            data.update(
                resolving_team=resolution.team.slug,
                resolving_team_in_ioc=resolution.team.in_ioc,
                resolution_code=resolution.code,
                summary=resolution.summary,
            )
        elif to_status == Status.CLOSED:
            incident.closed_at = now
        elif transitions.is_reopen(previous, to_status):
            data["reopened"] = True
            incident.resolved_at = None
            incident.resolved_by = None
        incident.save()
        _escalation_follows(incident=incident, previous=previous, to_status=to_status)
        who = actor.get_username() if _person(actor) else "the system"
        verb = "Reopened" if data.get("reopened") else to_status.capitalize()
        message = f"{verb} by {who}"
        if to_status == Status.RESOLVED:
            message += f" ({resolution.team.name}, {resolution.code.replace('_', ' ')})"
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.STATUS_CHANGED,
            message=message + (f": {reason}" if reason else ""),
            actor=actor,
            via=via,
            at=now,
            data=data,
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return TransitionOutcome(incident, changed=True)


def _escalation_follows(*, incident: Incident, previous: str, to_status: str) -> None:
    """Acknowledging stops paging, resolving stops it and tells those paged, reopening starts a
    new escalation run."""
    from . import escalation_engine

    if to_status in (Status.RESOLVED, Status.CLOSED):
        if previous not in (Status.RESOLVED, Status.CLOSED):
            escalation_engine.escalation_on_resolved(incident=incident)
    elif transitions.is_reopen(previous, to_status):
        escalation_engine.escalation_start(incident=incident)
    else:
        # Any move forward stops paging, not only the first one out of triggered: an ack
        # timeout re-triggers the escalation of an incident that stays acknowledged.
        escalation_engine.escalation_on_acknowledged(incident=incident)


def _acknowledge_again(*, incident: Incident, actor, via: str) -> None:
    """Acknowledging an acknowledged incident changes no state, but stops an escalation that
    its ack timeout re-triggered; the timeline says who stopped it."""
    from . import escalation_engine

    if escalation_engine.escalation_on_acknowledged(incident=incident):
        who = actor.get_username() if _person(actor) else "the system"
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.ESCALATION,
            message=f"Acknowledged again by {who}: the re-triggered escalation stops",
            actor=actor,
            via=via,
            data={"acknowledged_again": True},
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)


def incident_acknowledge(*, incident_id: int, actor, via: str) -> TransitionOutcome:
    return incident_transition(
        incident_id=incident_id, to_status=Status.ACKNOWLEDGED, actor=actor, via=via
    )


def incident_resolve(
    *,
    incident_id: int,
    actor,
    via: str,
    resolving_team: Team | None = None,
    code: str = ResolutionCode.UNSPECIFIED,
    summary: str = "",
) -> TransitionOutcome:
    """Resolve, recording who fixed it. Without a team the owning team resolves (the bare
    /resolve/ of simple tools)."""
    team = resolving_team or Incident.objects.select_related("team").get(pk=incident_id).team
    return incident_transition(
        incident_id=incident_id,
        to_status=Status.RESOLVED,
        actor=actor,
        via=via,
        reason=summary,
        resolution=Resolution(team=team, code=code, summary=summary),
    )


def incident_reopen(*, incident_id: int, actor, via: str, reason: str = "") -> TransitionOutcome:
    """A resolved incident back to acknowledged (by a person) until it is closed."""
    return incident_transition(
        incident_id=incident_id,
        to_status=Status.ACKNOWLEDGED,
        actor=actor,
        via=via,
        reason=reason,
        reopen=True,
    )


def incidents_auto_resolve_due(*, now=None) -> int:
    """Resolve, as the system with the owning team as resolver, the open incidents whose alerts
    have all resolved and stayed resolved for IOC_AUTO_RESOLVE_MINUTES (0: never)."""
    from django.db.models import Max

    minutes = settings.IOC_AUTO_RESOLVE_MINUTES
    if minutes <= 0:
        return 0
    now = now or timezone.now()
    due = (
        Incident.objects.filter(status__in=OPEN_STATUSES, alert_count__gt=0)
        .exclude(alerts__status="firing")
        .annotate(last_alert_resolved=Max("alerts__resolved_at"))
        .filter(last_alert_resolved__lte=now - timedelta(minutes=minutes))
        .values_list("pk", flat=True)
    )
    resolved = 0
    for incident_id in list(due[:500]):
        with transaction.atomic():
            # Asked again under the incident's lock: a batch may have attached a new firing
            # alert since the list was read (it held the lock meanwhile), and resolving now
            # would stop the paging that alert is owed.
            Incident.objects.select_for_update().filter(pk=incident_id).first()
            if not due.filter(pk=incident_id).exists():
                continue
            try:
                outcome = incident_resolve(
                    incident_id=incident_id,
                    actor=None,
                    via=Via.SYSTEM,
                    code=ResolutionCode.SELF_HEALED,
                    summary=f"All alerts resolved and stayed resolved for {minutes} minutes",
                )
            except WorkflowRefused:
                continue  # changed meanwhile (a person acted): leave it to them
        resolved += outcome.changed
    return resolved
