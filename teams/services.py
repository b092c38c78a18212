"""Writes to teams and memberships, schedules and overrides, contact methods and rules."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .ical import CalendarError, Event, PersonHints, event_span, person_hints, read_events
from .models import (
    ContactMethod,
    LayerMember,
    Membership,
    NotificationRule,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    Team,
    contact_address_errors,
)
from .schedules import ScheduleError, layer_errors, layer_spec_of, time_zone_error


def team_create(*, name: str, slug: str, in_ioc: bool = True, description: str = "") -> Team:
    return Team.objects.create(name=name, slug=slug, in_ioc=in_ioc, description=description)


@transaction.atomic
def membership_set(*, user, team: Team, role: str = Membership.Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, team=team, defaults={"role": role}
    )
    return membership


# --- contact methods and personal notification rules ---------------------------------------


def _fail(field: str, message: str | list[str]) -> ValidationError:
    return ValidationError({field: message})


def contact_method_create(
    *, user, kind: str, address: str = "", label: str = "", verified: bool = False
) -> ContactMethod:
    """Add a way to reach `user`. The address must suit the kind (see contact_address_errors)."""
    if kind not in ContactMethod.Kind.values:
        raise _fail("kind", f"must be one of {', '.join(ContactMethod.Kind.values)}")
    address = address.strip()
    if errors := contact_address_errors(kind, address):
        raise _fail("address", errors)
    return ContactMethod.objects.create(
        user=user, kind=kind, address=address, label=label.strip(), verified=verified
    )


def contact_method_update(
    *,
    contact_method: ContactMethod,
    address: str | None = None,
    label: str | None = None,
    verified: bool | None = None,
) -> ContactMethod:
    """Change a contact method; its kind is fixed (make another one instead)."""
    if address is not None:
        address = address.strip()
        if errors := contact_address_errors(contact_method.kind, address):
            raise _fail("address", errors)
        if address != contact_method.address:
            contact_method.address = address
            # A new address has not been verified, whatever the old one was.
            contact_method.verified = False
    if label is not None:
        contact_method.label = label.strip()
    if verified is not None:
        contact_method.verified = verified
    contact_method.save()
    return contact_method


def contact_method_delete(*, contact_method: ContactMethod) -> None:
    """Remove a contact method, and with it the rules that used it."""
    contact_method.delete()


def _check_rule(*, user, contact_method: ContactMethod, delay_minutes: int, urgency: str) -> None:
    if contact_method.user_id != user.pk:
        raise _fail("contact_method", "must be one of this person's own contact methods")
    if not 0 <= delay_minutes <= 24 * 60:
        raise _fail("delay_minutes", "must be between 0 and 1440 (a day)")
    if urgency not in NotificationRule.Urgency.values:
        raise _fail("urgency", f"must be one of {', '.join(NotificationRule.Urgency.values)}")


def notification_rule_create(
    *,
    user,
    contact_method: ContactMethod,
    delay_minutes: int = 0,
    urgency: str = NotificationRule.Urgency.ALL,
    position: int | None = None,
) -> NotificationRule:
    """Reach `user` by `contact_method` `delay_minutes` after a page, unless acknowledged."""
    _check_rule(
        user=user, contact_method=contact_method, delay_minutes=delay_minutes, urgency=urgency
    )
    if position is None:
        position = NotificationRule.objects.filter(user=user).count()
    return NotificationRule.objects.create(
        user=user,
        contact_method=contact_method,
        delay_minutes=delay_minutes,
        urgency=urgency,
        position=position,
    )


def notification_rule_update(
    *,
    rule: NotificationRule,
    contact_method: ContactMethod | None = None,
    delay_minutes: int | None = None,
    urgency: str | None = None,
    position: int | None = None,
) -> NotificationRule:
    rule.contact_method = contact_method or rule.contact_method
    rule.delay_minutes = rule.delay_minutes if delay_minutes is None else delay_minutes
    rule.urgency = urgency or rule.urgency
    rule.position = rule.position if position is None else position
    _check_rule(
        user=rule.user,
        contact_method=rule.contact_method,
        delay_minutes=rule.delay_minutes,
        urgency=rule.urgency,
    )
    rule.save()
    return rule


def notification_rule_delete(*, rule: NotificationRule) -> None:
    rule.delete()


# --- schedules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerInput:
    """A layer to write, as plain data (the API and the admin both build these)."""

    name: str
    start: date
    rotation_kind: str = ScheduleLayer.Rotation.WEEKLY
    handoff_time: time = time(9, 0)
    users: Sequence[Any] = ()
    position: int = 0
    shift_length: timedelta | None = None
    restrict_days: str = ""
    restrict_start: time | None = None
    restrict_end: time | None = None


def _on_call_people(team: Team) -> set[int]:
    return set(
        Membership.objects.filter(
            team=team, role__in=[Membership.Role.MEMBER, Membership.Role.MANAGER]
        ).values_list("user_id", flat=True)
    )


def _require_team_people(team: Team, users: Iterable, field: str) -> None:
    allowed = _on_call_people(team)
    strangers = [u.get_username() for u in users if u.pk not in allowed or not u.is_active]
    if strangers:
        raise _fail(
            field,
            f"not an active member of {team.name}: {', '.join(sorted(set(strangers)))}",
        )


def _check_layer(layer: LayerInput, index: int) -> None:
    try:
        errors = layer_errors(layer_spec_of(layer))
    except ScheduleError as bad_days:
        # Say what else is wrong too, checking the rest without the days.
        errors = layer_errors(layer_spec_of(layer, restrict_days=frozenset()))
        errors["restriction"] = str(bad_days)
    if not layer.name.strip():
        errors["name"] = "a layer needs a name"
    if errors:
        raise ValidationError({f"layers[{index}].{key}": msg for key, msg in errors.items()})


def _check_schedule(*, team: Team, name: str, time_zone: str, exclude: int | None = None) -> None:
    if not name.strip():
        raise _fail("name", "a schedule needs a name")
    if error := time_zone_error(time_zone):
        raise _fail("time_zone", error)
    taken = Schedule.objects.filter(team=team, name=name.strip()).exclude(pk=exclude)
    if taken.exists():
        raise _fail("name", f"{team.name} already has a schedule named {name.strip()!r}")


@transaction.atomic
def schedule_layers_set(*, schedule: Schedule, layers: Sequence[LayerInput]) -> None:
    """Replace the schedule's layers and their members with these."""
    for index, layer in enumerate(layers):
        _check_layer(layer, index)
        _require_team_people(schedule.team, layer.users, f"layers[{index}].members")
    schedule.layers.all().delete()
    for layer in layers:
        row = ScheduleLayer.objects.create(
            schedule=schedule,
            name=layer.name.strip(),
            position=layer.position,
            rotation_kind=layer.rotation_kind,
            shift_length=layer.shift_length if layer.rotation_kind == "custom" else None,
            handoff_time=layer.handoff_time,
            start=layer.start,
            restrict_days="".join(sorted(set(layer.restrict_days))),
            restrict_start=layer.restrict_start,
            restrict_end=layer.restrict_end,
        )
        LayerMember.objects.bulk_create(
            LayerMember(layer=row, user=user, position=position)
            for position, user in enumerate(layer.users)
        )


@transaction.atomic
def schedule_create(
    *,
    team: Team,
    name: str,
    time_zone: str = "UTC",
    description: str = "",
    layers: Sequence[LayerInput] = (),
) -> Schedule:
    """A new on-call schedule for the team, with its layers."""
    _check_schedule(team=team, name=name, time_zone=time_zone)
    schedule = Schedule.objects.create(
        team=team, name=name.strip(), time_zone=time_zone, description=description
    )
    schedule_layers_set(schedule=schedule, layers=layers)
    return schedule


@transaction.atomic
def schedule_update(
    *,
    schedule: Schedule,
    name: str | None = None,
    time_zone: str | None = None,
    description: str | None = None,
    layers: Sequence[LayerInput] | None = None,
) -> Schedule:
    """Change what is given; `layers`, when given, replace all the schedule's layers."""
    schedule = Schedule.objects.select_for_update().select_related("team").get(pk=schedule.pk)
    name = schedule.name if name is None else name
    time_zone = schedule.time_zone if time_zone is None else time_zone
    _check_schedule(team=schedule.team, name=name, time_zone=time_zone, exclude=schedule.pk)
    schedule.name, schedule.time_zone = name.strip(), time_zone
    if description is not None:
        schedule.description = description
    schedule.save()
    if layers is not None:
        schedule_layers_set(schedule=schedule, layers=layers)
    return schedule


def schedule_delete(*, schedule: Schedule) -> None:
    schedule.delete()


MAX_OVERRIDE = timedelta(days=366)


def _check_override(*, schedule: Schedule, user, start: datetime, end: datetime, replaces) -> None:
    for field, value in (("start", start), ("end", end)):
        if timezone.is_naive(value):
            raise _fail(field, "needs a time zone (an offset or Z)")
    # In UTC: two times of one zone compare by their wall clocks, wrong across a DST change.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise _fail("end", "must be after the start")
    if end - start > MAX_OVERRIDE:
        raise _fail("end", "an override lasts at most a year")
    if replaces is not None and replaces.pk == user.pk:
        raise _fail("replaces", "someone cannot replace themselves")
    _require_team_people(schedule.team, [user], "user")


@transaction.atomic
def schedule_override_create(
    *,
    schedule: Schedule,
    user,
    start: datetime,
    end: datetime,
    replaces=None,
    reason: str = "",
    created_by=None,
    external_uid: str = "",
) -> ScheduleOverride:
    """Put `user` on call from `start` to `end`: instead of whoever is, or, with `replaces`,
    only while that person would be (covering someone's shift)."""
    _check_override(schedule=schedule, user=user, start=start, end=end, replaces=replaces)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    return ScheduleOverride.objects.create(
        schedule=schedule,
        user=user,
        start=start,
        end=end,
        replaces=replaces,
        reason=reason.strip(),
        created_by=created_by,
        external_uid=external_uid,
    )


@transaction.atomic
def schedule_swap_create(
    *,
    schedule: Schedule,
    user,
    with_user,
    start: datetime,
    end: datetime,
    return_start: datetime | None = None,
    return_end: datetime | None = None,
    reason: str = "",
    created_by=None,
) -> list[ScheduleOverride]:
    """A shift swap: `user` takes `with_user`'s shifts from `start` to `end` and, when a return
    span is given, `with_user` takes `user`'s shifts then. Both overrides or neither."""
    if (return_start is None) != (return_end is None):
        raise _fail("return_end", "give both the start and the end of the return span, or neither")
    _require_team_people(schedule.team, [with_user], "replaces")
    overrides = [
        schedule_override_create(
            schedule=schedule,
            user=user,
            start=start,
            end=end,
            replaces=with_user,
            reason=reason,
            created_by=created_by,
        )
    ]
    if return_start is not None and return_end is not None:
        overrides.append(
            schedule_override_create(
                schedule=schedule,
                user=with_user,
                start=return_start,
                end=return_end,
                replaces=user,
                reason=reason,
                created_by=created_by,
            )
        )
    return overrides


def schedule_override_delete(*, override: ScheduleOverride) -> None:
    override.delete()


@dataclass(frozen=True)
class ImportResult:
    created: list[ScheduleOverride]
    updated: list[ScheduleOverride]
    skipped: int  # events already over


def _find_user(event: Event, hints: PersonHints, users: dict[str, Any], emails: dict) -> Any:
    def by_name(name: str | None):
        return users.get(name.lower()) if name else None

    if hints.username:
        if user := by_name(hints.username):
            return user
        raise CalendarError(f"{event.label}: no active user named {hints.username!r}")
    found = {emails[e].pk: emails[e] for e in hints.attendee_emails if e in emails}
    if len(found) > 1:
        names = ", ".join(sorted(u.get_username() for u in found.values()))
        raise CalendarError(
            f"{event.label} has several people as attendees ({names}):"
            " add a line 'user: <username>' to its description"
        )
    if found:
        return next(iter(found.values()))
    if user := by_name(hints.summary_username):
        return user
    if hints.organizer_email and hints.organizer_email in emails:
        return emails[hints.organizer_email]
    raise CalendarError(
        f"{event.label} names nobody we know: add a line 'user: <username>' to its description,"
        " invite the person, or make the summary their username"
    )


def _people_lookup() -> tuple[dict[str, Any], dict[str, Any]]:
    people = list(get_user_model().objects.filter(is_active=True))
    by_name = {u.get_username().lower(): u for u in people}
    by_email: dict[str, Any] = {}
    ambiguous = set()
    for user in people:
        email = (user.email or "").lower()
        if email in by_email:
            ambiguous.add(email)
        by_email[email] = user
    # An address two accounts share names nobody in particular.
    return by_name, {e: u for e, u in by_email.items() if e and e not in ambiguous}


@transaction.atomic
def schedule_import_ical(
    *, schedule: Schedule, text: str, created_by=None, at: datetime | None = None
) -> ImportResult:
    """Turn each VEVENT of an iCalendar file into an override on the schedule (who: see
    docs/schedules.md). All or nothing: one bad event refuses the file with a CalendarError
    or ValidationError naming it. Events already over are skipped; an event imported before
    (same UID) is updated instead of doubled."""
    at = timezone.now() if at is None else at
    zone = ZoneInfo(schedule.time_zone)
    by_name, by_email = _people_lookup()
    created, updated, skipped = [], [], 0
    for event in read_events(text):
        start, end = event_span(event, default_zone=zone)
        if end <= at:
            skipped += 1
            continue
        hints = person_hints(event)
        user = _find_user(event, hints, by_name, by_email)
        replaces = by_name.get(hints.replaces.lower()) if hints.replaces else None
        if hints.replaces and replaces is None:
            raise CalendarError(f"{event.label}: no active user named {hints.replaces!r}")
        uid = event.text("UID").strip()[:255]
        reason = (event.text("SUMMARY") or "imported from iCal")[:500]
        try:
            _check_override(schedule=schedule, user=user, start=start, end=end, replaces=replaces)
        except ValidationError as exc:
            raise CalendarError(f"{event.label}: {' '.join(exc.messages)}") from exc
        existing = schedule.overrides.filter(external_uid=uid).first() if uid else None
        if existing:
            existing.user, existing.start, existing.end = user, start, end
            existing.replaces, existing.reason = replaces, reason
            existing.save()
            updated.append(existing)
        else:
            created.append(
                ScheduleOverride.objects.create(
                    schedule=schedule,
                    user=user,
                    start=start,
                    end=end,
                    replaces=replaces,
                    reason=reason,
                    created_by=created_by,
                    external_uid=uid,
                )
            )
    return ImportResult(created=created, updated=updated, skipped=skipped)
