"""Shift hand-over: the note one shift leaves the next, acknowledged by the incoming shift.

A note snapshots the open incidents its author can see, so that it still says what was open at
hand-over time when those incidents have long moved on. The floor (managers, and members and
observers of teams inside the IOC) reads the notes; members and managers write and acknowledge
them. Each incident listed gets a note on its timeline when it is handed over and taken over.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from teams.models import Membership, Team
from teams.selectors import team_ids_visible_to, user_is_manager

# Modules rather than names, for the same import-cycle reason as in checklists.py.
from . import selectors, services
from .broadcast import incident_changed_on_commit
from .models import OPEN_STATUSES, Incident, IncidentEvent, Via
from .records import ShiftHandover

SHIFT_MAX = ShiftHandover._meta.get_field("shift").max_length


class HandoverOwnNote(Exception):
    """The author tried to acknowledge their own note: the incoming shift does (answered 403)."""


class HandoverAlreadyAcknowledged(Exception):
    """The note was acknowledged before (answered 409)."""


# --- selectors -----------------------------------------------------------------------------


def _floor_memberships(user, roles) -> bool:
    return Membership.objects.filter(user=user, team__in_ioc=True, role__in=roles).exists()


def shift_handover_user_may_read(*, user) -> bool:
    if not user.is_authenticated:
        return False
    return user_is_manager(user=user) or _floor_memberships(user, list(Membership.Role))


def shift_handover_user_may_write(*, user) -> bool:
    """Write and acknowledge notes: managers and members inside the IOC, not observers."""
    if not user.is_authenticated:
        return False
    return user_is_manager(user=user) or _floor_memberships(user, [Membership.Role.MEMBER])


def shift_handover_list_for_user(*, user) -> QuerySet[ShiftHandover]:
    notes = ShiftHandover.objects.select_related("author", "acknowledged_by")
    if not shift_handover_user_may_read(user=user):
        return notes.none()
    return notes.order_by("-created_at", "-id")


def shift_handover_get_for_user(*, user, pk: int) -> ShiftHandover:
    """The note, or ShiftHandover.DoesNotExist when unknown or not for this user."""
    return shift_handover_list_for_user(user=user).get(pk=pk)


def shift_handover_latest(*, user) -> ShiftHandover | None:
    return shift_handover_list_for_user(user=user).first()


def shift_handover_pending_for(*, user) -> ShiftHandover | None:
    """The latest note when it still waits for someone other than its author to acknowledge."""
    latest = shift_handover_latest(user=user)
    if latest is None or latest.acknowledged_at is not None or latest.author_id == user.pk:
        return None
    return latest


def shift_handover_visible_team_slugs(*, user) -> set[str] | None:
    """Slugs of the teams whose incidents the reader may see in a note; None means all."""
    team_ids = team_ids_visible_to(user=user)
    if team_ids is None:
        return None
    return set(Team.objects.filter(id__in=team_ids).values_list("slug", flat=True))


def shift_handover_incidents_for(
    *, handover: ShiftHandover, visible_team_slugs: set[str] | None
) -> list[dict]:
    """The note's snapshot, less the incidents of teams the reader may not see: an
    administrator's note may list an outside team's incidents."""
    if visible_team_slugs is None:
        return list(handover.open_incidents)
    return [entry for entry in handover.open_incidents if entry.get("team") in visible_team_slugs]


def shift_handover_open_incidents(*, user) -> list[Incident]:
    """What a note written now by this user would list: most severe first, then oldest."""
    incidents = list(selectors.incident_list_for_user(user=user, status="open"))
    rank = services.SEVERITY_RANK
    return sorted(incidents, key=lambda i: (rank.get(i.severity, 9), i.opened_at, i.pk))


# --- services ------------------------------------------------------------------------------


def _snapshot(incident: Incident) -> dict:
    return {
        "id": incident.pk,
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "team": incident.team.slug,
    }


def _note_on(incident_ids, message: str, *, actor, via: str, data: dict) -> None:
    for incident in Incident.objects.filter(pk__in=incident_ids, status__in=OPEN_STATUSES):
        services.timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.NOTE,
            message=message,
            actor=actor,
            via=via,
            data=data,
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)


def shift_handover_create(
    *, author, shift: str, done: str, watch: str, via: str = Via.WEB
) -> ShiftHandover:
    """Write a hand-over note listing the open incidents the author can see."""
    shift = (shift or "").strip()
    if not shift:
        raise ValidationError({"shift": "Name the shift, e.g. 'night 22:00-06:00'."})
    if len(shift) > SHIFT_MAX:
        raise ValidationError({"shift": f"At most {SHIFT_MAX} characters."})
    with transaction.atomic():
        incidents = shift_handover_open_incidents(user=author)
        handover = ShiftHandover.objects.create(
            author=author,
            created_at=timezone.now(),
            shift=shift,
            open_incidents=[_snapshot(incident) for incident in incidents],
            done=(done or "").strip(),
            watch=(watch or "").strip(),
        )
        _note_on(
            [incident.pk for incident in incidents],
            f"Handed over at the end of shift '{shift}' by {author.get_username()}",
            actor=author,
            via=via,
            data={"handover": handover.pk, "action": "handed_over"},
        )
    return handover


def shift_handover_acknowledge(
    *, handover: ShiftHandover, user, via: str = Via.WEB
) -> ShiftHandover:
    """The incoming shift takes over: once, and not by the note's author."""
    with transaction.atomic():
        handover = ShiftHandover.objects.select_for_update().get(pk=handover.pk)
        if handover.author_id is not None and handover.author_id == user.pk:
            raise HandoverOwnNote(
                "You wrote this note; someone from the incoming shift acknowledges it."
            )
        if handover.acknowledged_at is not None:
            who = handover.acknowledged_by.get_username() if handover.acknowledged_by else "someone"
            raise HandoverAlreadyAcknowledged(
                f"Already acknowledged by {who} at {handover.acknowledged_at:%Y-%m-%d %H:%M}."
            )
        handover.acknowledged_by = user
        handover.acknowledged_at = timezone.now()
        handover.save(update_fields=["acknowledged_by", "acknowledged_at"])
        # Only incidents still open: "taken over" means nothing on one that has been closed.
        _note_on(
            [entry.get("id") for entry in handover.open_incidents],
            f"Taken over by {user.get_username()} from the hand-over of shift '{handover.shift}'",
            actor=user,
            via=via,
            data={"handover": handover.pk, "action": "taken_over"},
        )
    return handover
