"""Browser pages for on-call schedules: the list (who is on call now and next, gap warnings)
and a schedule's two-week grid with its override form. The form is an htmx POST answered with
the grid it changed; refused input (400) and a refusal (403) come back as that fragment with
the reason in it. Not visible -> 404."""

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .api import calendar_response
from .models import Schedule, ScheduleOverride
from .selectors import (
    oncall_board_context,
    schedule_get_for_user,
    schedule_grid_context,
    schedule_ical,
    schedule_overview_context,
    schedule_team_people,
    schedule_upcoming_overrides,
    schedule_user_may_override,
    user_ical,
    user_is_manager,
)
from .services import schedule_override_create, schedule_override_delete

log = logging.getLogger(__name__)


def _schedule_or_404(request, pk: int) -> Schedule:
    try:
        return schedule_get_for_user(user=request.user, pk=pk)
    except Schedule.DoesNotExist as exc:
        raise Http404("No such schedule") from exc


def _first_day(request) -> date | None:
    try:
        return date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        return None  # no or a bad date: start today


@require_GET
def oncall_now_view(request):
    """The board's "on call now" panel alone, for its periodic htmx refresh."""
    return render(request, "teams/_oncall_now.html", oncall_board_context(user=request.user))


@require_GET
def schedule_list_view(request):
    return render(request, "teams/schedules.html", schedule_overview_context(user=request.user))


def _body(
    request,
    schedule: Schedule,
    *,
    first_day: date | None = None,
    error: str = "",
    notice: str = "",
    submitted: dict | None = None,
    status: int = 200,
    template: str = "teams/_schedule_body.html",
):
    may_override = schedule_user_may_override(user=request.user, schedule=schedule)
    overrides = list(schedule_upcoming_overrides(schedule=schedule))
    context = {
        **schedule_grid_context(schedule=schedule, first_day=first_day),
        "may_override": may_override,
        "is_manager": user_is_manager(user=request.user),
        "overrides": overrides,
        "people": schedule_team_people(schedule=schedule) if may_override else [],
        "error": error,
        "notice": notice,
        "submitted": submitted or {},
    }
    return render(request, template, context, status=status)


@require_GET
def schedule_detail_view(request, pk: int):
    schedule = _schedule_or_404(request, pk)
    return _body(
        request, schedule, first_day=_first_day(request), template="teams/schedule_detail.html"
    )


def _forbidden(request, schedule: Schedule, what: str) -> HttpResponse:
    log.warning("user %s refused: %s on schedule %s", request.user.pk, what, schedule.pk)
    return _body(
        request,
        schedule,
        error="Only the team's members and managers change who is on call.",
        status=403,
    )


def _local(raw: str, field: str, zone: ZoneInfo) -> datetime:
    """A datetime-local value read on the schedule's wall clock."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise ValidationError({field: f"{field} must be a date and time"}) from exc
    return value.replace(tzinfo=zone) if timezone.is_naive(value) else value


def _person(raw: str, field: str, *, required: bool):
    if not raw:
        if required:
            raise ValidationError({field: "Choose a person."})
        return None
    users = get_user_model().objects
    try:
        return users.get(pk=int(raw), is_active=True)
    except (ValueError, users.model.DoesNotExist) as exc:
        raise ValidationError({field: "No such person."}) from exc


@require_POST
def schedule_override_add_view(request, pk: int):
    schedule = _schedule_or_404(request, pk)
    if not schedule_user_may_override(user=request.user, schedule=schedule):
        return _forbidden(request, schedule, "add an override")
    fields = ("user", "start", "end", "replaces", "reason")
    submitted = {field: request.POST.get(field, "") for field in fields}
    zone = ZoneInfo(schedule.time_zone)
    try:
        schedule_override_create(
            schedule=schedule,
            user=_person(submitted["user"], "user", required=True),
            start=_local(submitted["start"], "start", zone),
            end=_local(submitted["end"], "end", zone),
            replaces=_person(submitted["replaces"], "replaces", required=False),
            reason=submitted["reason"],
            created_by=request.user,
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
        return _body(request, schedule, error=error, submitted=submitted, status=400)
    # Loaded again: the schedule's overrides were prefetched before this one existed.
    return _body(request, _schedule_or_404(request, pk), notice="Override added.")


@require_POST
def schedule_override_delete_view(request, pk: int, override_id: int):
    schedule = _schedule_or_404(request, pk)
    override = ScheduleOverride.objects.filter(schedule=schedule, pk=override_id).first()
    if override is None:
        raise Http404("No such override")
    mine = request.user.pk in (override.created_by_id, override.user_id)
    allowed = mine and schedule_user_may_override(user=request.user, schedule=schedule)
    if not allowed and not user_is_manager(user=request.user):
        return _forbidden(request, schedule, f"remove override {override.pk}")
    schedule_override_delete(override=override)
    return _body(request, _schedule_or_404(request, pk), notice="Override removed.")


@require_GET
def schedule_ical_view(request, pk: int):
    schedule = _schedule_or_404(request, pk)
    return calendar_response(schedule_ical(schedule=schedule), f"schedule-{schedule.pk}.ics")


@require_GET
def my_ical_view(request):
    text = user_ical(user=request.user, viewer=request.user)
    return calendar_response(text, f"oncall-{request.user.get_username()}.ics")
