"""Who may see and act on which team's work.

- administrators (is_staff) and managers (a manager membership in any team) see and act everywhere;
- members of a team inside the IOC see everything (the floor follows incidents handed outside
  too) and act on every IOC team's work, and their own;
- members of an outside team see and act on their own team's work only;
- observers see their team's work but may not act on it.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from .ical import CalendarEvent, utc_stamp, write_calendar
from .models import (
    ContactMethod,
    LayerMember,
    Membership,
    NotificationRule,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    Team,
)
from .schedules import (
    LayerSpec,
    OverrideSpec,
    ScheduleError,
    ScheduleSpec,
    Shift,
    gaps_between,
    layer_errors,
    layer_spec_of,
    next_oncall,
    oncall_at,
    shifts_between,
)


def user_is_manager(*, user: AbstractBaseUser) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return Membership.objects.filter(user=user, role=Membership.Role.MANAGER).exists()


def _team_ids_for(user, *, acting: bool) -> set[int] | None:
    """Team ids the user may see (or act on); None means all teams."""
    if not user.is_authenticated:
        return set()
    if user.is_staff or user.is_superuser:
        return None
    memberships = list(Membership.objects.filter(user=user).select_related("team"))
    if any(m.role == Membership.Role.MANAGER for m in memberships):
        return None
    roles = [m for m in memberships if not acting or m.role != Membership.Role.OBSERVER]
    ids = {m.team_id for m in roles}
    if any(m.team.in_ioc and m.role == Membership.Role.MEMBER for m in roles):
        if not acting:
            return None
        ids |= set(Team.objects.filter(in_ioc=True).values_list("id", flat=True))
    return ids


def team_ids_visible_to(*, user) -> set[int] | None:
    return _team_ids_for(user, acting=False)


def team_ids_actionable_by(*, user) -> set[int] | None:
    return _team_ids_for(user, acting=True)


def team_list_visible_to(*, user):
    ids = team_ids_visible_to(user=user)
    teams = Team.objects.all()
    return teams if ids is None else teams.filter(id__in=ids)


# --- on-call schedules ---------------------------------------------------------------------
# The escalation engine calls team_oncall_now, team_managers and schedule_oncall_now.

log = logging.getLogger(__name__)

GAP_WARNING_DAYS = 14
ICAL_DAYS = 60


@dataclass(frozen=True)
class OnCallEntry:
    """Someone on call (now or next) on one schedule, for pages and the API."""

    user: Any
    schedule: Schedule
    layer: str | None
    is_override: bool
    start: datetime
    end: datetime

    def as_json(self) -> dict:
        return {
            "user": self.user.pk,
            "username": self.user.get_username(),
            "schedule": self.schedule.pk,
            "schedule_name": self.schedule.name,
            "layer": self.layer,
            "override": self.is_override,
            "from": self.start.isoformat(),
            "until": self.end.isoformat(),
        }


def _now(at: datetime | None) -> datetime:
    return timezone.now() if at is None else at


def _with_schedule_data(schedules: QuerySet[Schedule], *, since: datetime | None) -> QuerySet:
    # Deactivated people drop out of rotations and overrides: nobody pages a leaver.
    members = (
        LayerMember.objects.filter(user__is_active=True)
        .select_related("user")
        .order_by("position", "id")
    )
    overrides = (
        ScheduleOverride.objects.filter(user__is_active=True)
        .select_related("user", "replaces", "created_by")
        .order_by("id")
    )
    if since is not None:
        overrides = overrides.filter(end__gt=since)
    return schedules.select_related("team").prefetch_related(
        Prefetch(
            "layers",
            queryset=ScheduleLayer.objects.prefetch_related(Prefetch("members", queryset=members)),
        ),
        Prefetch("overrides", queryset=overrides),
    )


def schedule_spec_for(schedule: Schedule, *, since: datetime | None = None) -> ScheduleSpec:
    """The schedule as plain data for teams.schedules. Uses prefetched layers and overrides
    when present (see schedule_list_visible_to); `since` leaves out overrides over by then."""
    prefetched = getattr(schedule, "_prefetched_objects_cache", {})
    if "layers" not in prefetched or "overrides" not in prefetched:
        schedule = _with_schedule_data(Schedule.objects.filter(pk=schedule.pk), since=since).get()
    layers = tuple(
        spec
        for spec in (_layer_spec(layer) for layer in sorted(schedule.layers.all(), key=_pk))
        if spec is not None
    )
    overrides = tuple(
        OverrideSpec(user_id=o.user_id, start=o.start, end=o.end, replaces=o.replaces_id, id=o.pk)
        for o in sorted(schedule.overrides.all(), key=_pk)
        if since is None or o.end > since
    )
    return ScheduleSpec(
        time_zone=schedule.time_zone,
        layers=layers,
        overrides=overrides,
        id=schedule.pk,
        name=schedule.name,
    )


def _pk(row) -> int:
    return row.pk


def _layer_spec(layer: ScheduleLayer) -> LayerSpec | None:
    try:
        spec = layer_spec_of(layer, user_ids=(m.user_id for m in layer.members.all()), id=layer.pk)
        errors = layer_errors(spec)
    except ScheduleError as bad_days:
        errors = {"restriction": str(bad_days)}
    if errors:
        # Services refuse such a layer; one slipped in some other way must not take the board
        # and the escalations down with it.
        log.error("schedule layer %s left out: %s", layer.pk, errors)
        return None
    return spec


def schedule_list_visible_to(*, user, since: datetime | None = None) -> QuerySet[Schedule]:
    ids = team_ids_visible_to(user=user)
    schedules = Schedule.objects.all() if ids is None else Schedule.objects.filter(team_id__in=ids)
    return _with_schedule_data(schedules.order_by("team__name", "name", "id"), since=since)


def schedule_get_for_user(*, user, pk: int, since: datetime | None = None) -> Schedule:
    """A schedule the user may see; Schedule.DoesNotExist otherwise (a 404, not a 403)."""
    return schedule_list_visible_to(user=user, since=since).get(pk=pk)


def schedule_user_may_override(*, user, schedule: Schedule) -> bool:
    """Managers, and the members (not observers) of the schedule's team."""
    if user_is_manager(user=user):
        return True
    return Membership.objects.filter(
        user=user, team_id=schedule.team_id, role=Membership.Role.MEMBER
    ).exists()


def _users_by_id(ids: Iterable[int]) -> dict[int, Any]:
    return get_user_model().objects.in_bulk(set(ids))


def _entries(schedule: Schedule, shifts: Iterable[Shift], users: dict[int, Any]) -> list:
    return [
        OnCallEntry(
            user=users[shift.user_id],
            schedule=schedule,
            layer=shift.layer,
            is_override=shift.is_override,
            start=shift.start,
            end=shift.end,
        )
        for shift in shifts
        if shift.user_id in users
    ]


def _oncall(
    schedules: Iterable[Schedule], at: datetime, *, with_next: bool = True
) -> dict[str, list[OnCallEntry]]:
    """`with_next=False` leaves "next" empty: finding it may scan NEXT_HORIZON ahead, and the
    *_oncall_now the escalation engine pages with only want "now"."""
    found: list[tuple[Schedule, list[Shift], Shift | None]] = []
    for schedule in schedules:
        spec = schedule_spec_for(schedule)
        upcoming = next_oncall(spec, at) if with_next else None
        found.append((schedule, oncall_at(spec, at), upcoming))
    ids = [s.user_id for _, now, nxt in found for s in [*now, *([nxt] if nxt else [])]]
    users = _users_by_id(ids)
    return {
        "now": [e for schedule, now, _ in found for e in _entries(schedule, now, users)],
        "next": [e for schedule, _, nxt in found if nxt for e in _entries(schedule, [nxt], users)],
    }


def _distinct_users(entries: Iterable[OnCallEntry]) -> list:
    seen: dict[int, Any] = {}
    for entry in entries:
        seen.setdefault(entry.user.pk, entry.user)
    return list(seen.values())


def schedules_oncall(*, schedules: Iterable[Schedule], at: datetime | None = None) -> dict:
    """{"now": [OnCallEntry], "next": [OnCallEntry]} for several schedules, loading the people
    once (the API's list)."""
    return _oncall(schedules, _now(at))


def schedule_oncall(*, schedule: Schedule, at: datetime | None = None) -> dict:
    """{"now": [OnCallEntry], "next": [OnCallEntry]} for one schedule."""
    return _oncall([schedule], _now(at))


def schedule_oncall_now(*, schedule: Schedule, at: datetime | None = None) -> list:
    """The people on call on the schedule at `at` (default: now); empty during a gap."""
    return _distinct_users(_oncall([schedule], _now(at), with_next=False)["now"])


def _team_schedules(team: Team, at: datetime) -> QuerySet[Schedule]:
    return _with_schedule_data(team.schedules.order_by("name", "id"), since=at)


def team_oncall(*, team: Team, at: datetime | None = None) -> dict:
    """{"now": [OnCallEntry], "next": [OnCallEntry]} across the team's schedules."""
    at = _now(at)
    return _oncall(_team_schedules(team, at), at)


def team_oncall_now(*, team: Team, at: datetime | None = None) -> list:
    """The people on call for the team at `at` (default: now), across its schedules, each
    once, in schedule-name order. Empty when nobody is (no schedule, or a gap)."""
    at = _now(at)
    return _distinct_users(_oncall(_team_schedules(team, at), at, with_next=False)["now"])


def team_oncall_next(*, team: Team, at: datetime | None = None) -> list:
    """The people who take over next on each of the team's schedules."""
    return _distinct_users(team_oncall(team=team, at=at)["next"])


def team_managers(*, team: Team) -> list:
    """Active members of the team with the manager role (the escalation's last resort)."""
    return list(
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__team=team,
            memberships__role=Membership.Role.MANAGER,
        )
        .order_by("username")
    )


def team_get_visible(*, user, slug: str) -> Team:
    """A team the user may see, by slug; Team.DoesNotExist otherwise."""
    return team_list_visible_to(user=user).get(slug=slug)


def schedule_gaps(
    *, schedule: Schedule, at: datetime | None = None, days: int = GAP_WARNING_DAYS
) -> list[tuple[datetime, datetime]]:
    """When nobody is on call within the next `days` days: the gap warning."""
    at = _now(at)
    return gaps_between(schedule_spec_for(schedule), at, at + timedelta(days=days))


def oncall_board_context(*, user, at: datetime | None = None) -> dict:
    """For templates/teams/_oncall_now.html: per team the user may see that has schedules, who
    is on call now and next, and whether a schedule has nobody on call right now."""
    at = _now(at)
    schedules = list(schedule_list_visible_to(user=user, since=at))
    oncall = _oncall(schedules, at)
    teams: dict[int, dict] = {}
    for schedule in schedules:
        teams.setdefault(
            schedule.team_id, {"team": schedule.team, "now": [], "next": [], "uncovered": []}
        )
    for key in ("now", "next"):
        for entry in oncall[key]:
            teams[entry.schedule.team_id][key].append(entry)
    covered = {entry.schedule.pk for entry in oncall["now"]}
    for schedule in schedules:
        if schedule.pk not in covered:
            teams[schedule.team_id]["uncovered"].append(schedule)
    return {"oncall_teams": sorted(teams.values(), key=lambda t: t["team"].name)}


# --- the two-week grid ---------------------------------------------------------------------


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _percent(part: timedelta, whole: timedelta) -> str:
    # A string with a dot whatever the locale: it goes into a style attribute.
    return f"{100 * part / whole:.3f}"


def schedule_grid_context(
    *, schedule: Schedule, first_day: date | None = None, days: int = 14, at: datetime | None = None
) -> dict:
    """Days as columns in the schedule's zone, each with its shifts and gaps as blocks placed
    by the share of that local day they cover (a DST day is 23 or 25 hours tall, not 24)."""
    at = _now(at)
    zone = ZoneInfo(schedule.time_zone)
    first_day = first_day or at.astimezone(zone).date()
    range_start = _local_midnight(first_day, zone)
    range_end = _local_midnight(first_day + timedelta(days=days), zone)
    spec = schedule_spec_for(schedule)
    shifts = shifts_between(spec, range_start, range_end)
    gaps = gaps_between(spec, range_start, range_end)
    users = _users_by_id(s.user_id for s in shifts)
    columns = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        day_start, day_end = _local_midnight(day, zone), _local_midnight(day + timedelta(1), zone)
        length = day_end - day_start
        blocks = []
        spans = [(s.start, s.end, s) for s in shifts] + [(g[0], g[1], None) for g in gaps]
        for start, end, shift in sorted(spans, key=lambda span: span[0]):
            top, bottom = max(start, day_start), min(end, day_end)
            if top >= bottom:
                continue
            user = users.get(shift.user_id) if shift else None
            blocks.append(
                {
                    "kind": "gap"
                    if shift is None
                    else "override"
                    if shift.is_override
                    else "shift",
                    "name": user.get_username() if user else "",
                    "layer": shift.layer if shift else None,
                    "start": start.astimezone(zone),
                    "end": end.astimezone(zone),
                    "hours": round((end - start) / timedelta(hours=1), 2),
                    "top": _percent(top - day_start, length),
                    "height": _percent(bottom - top, length),
                    "continues_before": start < day_start,
                    "continues_after": end > day_end,
                }
            )
        columns.append(
            {
                "date": day,
                "is_today": day == at.astimezone(zone).date(),
                "hours": round(length / timedelta(hours=1)),
                "blocks": blocks,
            }
        )
    return {
        "schedule": schedule,
        "columns": columns,
        "first_day": first_day,
        "previous_day": first_day - timedelta(days=days),
        "next_day": first_day + timedelta(days=days),
        "gaps": [(a.astimezone(zone), b.astimezone(zone)) for a, b in gaps],
    }


def schedule_upcoming_overrides(*, schedule: Schedule, at: datetime | None = None) -> QuerySet:
    return (
        ScheduleOverride.objects.filter(schedule=schedule, end__gt=_now(at))
        .select_related("user", "replaces", "created_by")
        .order_by("start", "id")
    )


def schedule_team_people(*, schedule: Schedule) -> QuerySet:
    """Who may be on call on the schedule: active members and managers of its team."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            memberships__team_id=schedule.team_id,
            memberships__role__in=[Membership.Role.MEMBER, Membership.Role.MANAGER],
        )
        .order_by("username")
    )


# --- iCal export ---------------------------------------------------------------------------


def _uid(schedule: Schedule, shift: Shift) -> str:
    # Stable for the same shift whatever the export window: shifts keep their true start.
    source = f"o{shift.override_id}" if shift.is_override else f"l{shift.layer_id}"
    host = urlsplit(settings.IOC_BASE_URL).hostname or "ioc"
    return f"shift-{schedule.pk}-{source}-{shift.user_id}-{utc_stamp(shift.start)}@{host}"


def _calendar_events(schedule: Schedule, shifts: list[Shift], users: dict) -> list[CalendarEvent]:
    events = []
    for shift in shifts:
        user = users.get(shift.user_id)
        if user is None:
            continue
        username = user.get_username()
        via = "override" if shift.is_override else f"layer {shift.layer}"
        events.append(
            CalendarEvent(
                uid=_uid(schedule, shift),
                start=shift.start,
                end=shift.end,
                summary=f"On call: {schedule.team.name} ({username})",
                # The "user:" line makes the file importable again (see docs/schedules.md).
                description=f"Schedule: {schedule.name} ({via})\nuser: {username}",
            )
        )
    return events


def schedule_ical(*, schedule: Schedule, days: int = ICAL_DAYS, at: datetime | None = None) -> str:
    """The schedule's final shifts overlapping the next `days` days, as an iCalendar file."""
    at = _now(at)
    shifts = shifts_between(schedule_spec_for(schedule), at, at + timedelta(days=days))
    users = _users_by_id(s.user_id for s in shifts)
    return write_calendar(
        name=f"On call: {schedule.team.name} / {schedule.name}",
        events=_calendar_events(schedule, shifts, users),
        now=at,
    )


def user_ical(*, user, viewer, days: int = ICAL_DAYS, at: datetime | None = None) -> str:
    """Every shift of `user` on the schedules `viewer` may see, next `days` days."""
    at = _now(at)
    schedules = (
        schedule_list_visible_to(user=viewer, since=at)
        .filter(Q(layers__members__user=user) | Q(overrides__user=user, overrides__end__gt=at))
        .distinct()
    )
    events: list[CalendarEvent] = []
    for schedule in schedules:
        shifts = shifts_between(schedule_spec_for(schedule), at, at + timedelta(days=days))
        mine = [s for s in shifts if s.user_id == user.pk]
        events += _calendar_events(schedule, mine, {user.pk: user})
    events.sort(key=lambda event: (event.start, event.uid))
    return write_calendar(name=f"On call: {user.get_username()}", events=events, now=at)


# --- contact methods and personal notification rules ---------------------------------------


def user_get_for_contacts(*, viewer, pk: int):
    """The user whose contact methods and rules `viewer` may manage: themselves, or anyone for
    a manager. Anyone else's are not visible (User.DoesNotExist, a 404)."""
    users = get_user_model().objects
    if viewer.is_authenticated and (viewer.pk == pk or user_is_manager(user=viewer)):
        return users.get(pk=pk)
    raise users.model.DoesNotExist


def contact_method_list_for(*, user) -> QuerySet[ContactMethod]:
    return ContactMethod.objects.filter(user=user).order_by("kind", "id")


def notification_rule_list_for(*, user) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.filter(user=user)
        .select_related("contact_method")
        .order_by("delay_minutes", "position", "id")
    )


@dataclass(frozen=True)
class PlannedNotification:
    contact_method: ContactMethod
    delay_minutes: int
    # True when the person has no rules and this comes from the default.
    default: bool = False


DEFAULT_RULE_KINDS = (ContactMethod.Kind.IN_APP, ContactMethod.Kind.EMAIL)


def notification_plan_for(*, user, urgency: str = "high") -> list[PlannedNotification]:
    """How to reach `user` when paged, in order of delay. High urgency uses every rule; low
    urgency only the rules for any urgency. Someone with no rules at all gets the default:
    each of their in-app and email methods at once (nothing, if they have neither)."""
    rules = list(notification_rule_list_for(user=user))
    if not rules:
        methods = contact_method_list_for(user=user).filter(kind__in=DEFAULT_RULE_KINDS)
        return [PlannedNotification(method, 0, default=True) for method in methods]
    return [
        PlannedNotification(rule.contact_method, rule.delay_minutes)
        for rule in rules
        if urgency == NotificationRule.Urgency.HIGH or rule.urgency == NotificationRule.Urgency.ALL
    ]


def schedule_overview_context(*, user, at: datetime | None = None) -> dict:
    """For the schedules page: per team the user may see, each schedule with who is on call
    now and next and its gaps in the next 14 days."""
    at = _now(at)
    schedules = list(schedule_list_visible_to(user=user, since=at))
    oncall = _oncall(schedules, at)
    teams: dict[int, dict] = {}
    for schedule in schedules:
        team = teams.setdefault(schedule.team_id, {"team": schedule.team, "schedules": []})
        zone = ZoneInfo(schedule.time_zone)
        gaps = gaps_between(schedule_spec_for(schedule), at, at + timedelta(GAP_WARNING_DAYS))
        team["schedules"].append(
            {
                "schedule": schedule,
                "now": [e for e in oncall["now"] if e.schedule.pk == schedule.pk],
                "next": [e for e in oncall["next"] if e.schedule.pk == schedule.pk],
                "gaps": [(a.astimezone(zone), b.astimezone(zone)) for a, b in gaps],
            }
        )
    return {"teams": sorted(teams.values(), key=lambda t: t["team"].name), "at": at}
