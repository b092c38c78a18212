"""Who works an incident: roles, responders from any team, and hand-offs between teams."""

from django.db import transaction
from django.utils import timezone

from teams.models import Team

from .broadcast import incident_changed_on_commit
from .models import HandOff, Incident, IncidentEvent, IncidentResponder
from .services import timeline_append
from .transitions import WorkflowRefused

ROLES = {
    "commander": "incident commander",
    "communications_lead": "communications lead",
    "scribe": "scribe",
}


def _name(user) -> str:
    return user.get_username() if user is not None else "nobody"


def incident_assign_role(*, incident_id: int, role: str, user, actor, via: str) -> Incident:
    """Give a role to a person (or take it away with user=None)."""
    if role not in ROLES:
        raise WorkflowRefused(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        previous = getattr(incident, role)
        if previous == user:
            return incident
        setattr(incident, role, user)
        incident.save(update_fields=[role, "updated_at"])
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.ROLE_CHANGED,
            message=f"{ROLES[role].capitalize()}: {_name(user)}"
            + (f" (was {_name(previous)})" if previous else ""),
            actor=actor,
            via=via,
            data={
                "role": role,
                "user": _name(user) if user else None,
                "previous": _name(previous) if previous else None,
            },
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return incident


def incident_add_responders(
    *, incident_id: int, actor, via: str, users=(), teams=()
) -> list[IncidentResponder]:
    """Add people or whole teams (from inside or outside the IOC) as responders. Adding a team
    is recorded here; paging its on-call is the escalation engine's job. Not a hand-off."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        now = timezone.now()
        added = []
        for user in users:
            responder, created = IncidentResponder.objects.get_or_create(
                incident=incident, user=user, defaults={"added_by": actor, "added_at": now}
            )
            if created:
                added.append(responder)
        for team in teams:
            responder, created = IncidentResponder.objects.get_or_create(
                incident=incident, team=team, defaults={"added_by": actor, "added_at": now}
            )
            if created:
                added.append(responder)
        paged = []
        for responder in added:
            if responder.team is not None:
                from .escalation_engine import responders_page

                paged += responders_page(incident=incident, team=responder.team)
        if added:
            names = [str(r.user.get_username() if r.user else f"team {r.team.name}") for r in added]
            timeline_append(
                incident=incident,
                kind=IncidentEvent.Kind.RESPONDERS_ADDED,
                message="Responders added: "
                + ", ".join(names)
                + (
                    f"; paging {', '.join(sorted({u.get_username() for u in paged}))}"
                    if paged
                    else ""
                ),
                actor=actor,
                via=via,
                data={
                    "users": [r.user.get_username() for r in added if r.user],
                    "teams": [r.team.slug for r in added if r.team],
                    "paged": sorted({u.get_username() for u in paged}),
                },
            )
            incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return added


def incident_hand_off(*, incident_id: int, to_team: Team, reason: str, actor, via: str) -> HandOff:
    """Move ownership to another team. Handing off to a team outside the IOC marks the incident
    as escalated outside for good: handing it back later is recorded but does not undo that."""
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowRefused("a hand-off needs a reason")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().select_related("team").get(pk=incident_id)
        if not incident.is_open:
            raise WorkflowRefused(f"an incident that is {incident.status} cannot be handed off")
        if incident.team_id == to_team.pk:
            raise WorkflowRefused(f"the incident already belongs to {to_team.name}")
        from_team = incident.team
        now = timezone.now()
        hand_off = HandOff.objects.create(
            incident=incident,
            from_team=from_team,
            to_team=to_team,
            reason=reason,
            by=actor,
            at=now,
        )
        incident.team = to_team
        if not to_team.in_ioc:
            incident.escalated_outside = True
        incident.save(update_fields=["team", "escalated_outside", "updated_at"])
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.HAND_OFF,
            message=f"Handed off from {from_team.name} to {to_team.name}: {reason}"
            + ("" if to_team.in_ioc else " (outside the IOC)"),
            actor=actor,
            via=via,
            at=now,
            data={
                "hand_off": hand_off.pk,
                "from_team": from_team.slug,
                "to_team": to_team.slug,
                "to_team_in_ioc": to_team.in_ioc,
                "reason": reason,
            },
        )
        # The new team's own policy takes over (a new run), so its on-call hears of it.
        from .escalation_engine import escalation_start

        escalation_start(incident=incident)
        # Both teams' boards change: the old one loses the incident, the new one gains it.
        incident_changed_on_commit(incident_id=incident.pk, team_id=from_team.pk)
        incident_changed_on_commit(incident_id=incident.pk, team_id=to_team.pk)
    return hand_off


def hand_off_accept(*, hand_off_id: int, actor, via: str) -> HandOff:
    with transaction.atomic():
        hand_off = HandOff.objects.select_for_update().select_related("to_team").get(pk=hand_off_id)
        if hand_off.accepted_at is not None:
            return hand_off
        hand_off.accepted_at = timezone.now()
        hand_off.accepted_by = actor
        hand_off.save(update_fields=["accepted_at", "accepted_by"])
        timeline_append(
            incident=hand_off.incident,
            kind=IncidentEvent.Kind.HAND_OFF_ACCEPTED,
            message=f"{hand_off.to_team.name} accepted the hand-off",
            actor=actor,
            via=via,
            data={"hand_off": hand_off.pk, "team": hand_off.to_team.slug},
        )
        incident_changed_on_commit(incident_id=hand_off.incident_id, team_id=hand_off.to_team_id)
    return hand_off
