"""Escalation policies: the writes (services that validate steps per kind and keep one default
policy per team) and the reads (an incident's escalation in words, its notifications).

An incident's escalation is described from its snapshot (Escalation.snapshot), never from the
live policy: editing a policy does not change escalations already running, so neither may their
description. The engine is escalation_engine.py; the pure step logic is escalation.py.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from teams.models import Schedule, Team
from teams.schedules import time_zone_error
from teams.selectors import team_ids_visible_to

from .escalation import PolicySpec, StepSpec, next_move, spec_from_snapshot
from .escalation_models import Escalation, EscalationPolicy, EscalationStep, Notification
from .models import Incident, Severity

Kind = EscalationStep.Kind

MAX_STEPS = 50
WEBHOOK_FORMATS = ("slack", "teams", "webhook")
# Notification channels whose address is a URL holding the receiver's secret.
WEBHOOK_CHANNELS = frozenset(WEBHOOK_FORMATS)
CONDITION_KEYS = ("weekdays", "from", "to", "severities")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

# The fields each kind uses besides position, kind, wait_minutes and condition; the others are
# cleared on save so that a step never carries a stale schedule or URL from an earlier kind.
KIND_FIELDS: dict[str, frozenset[str]] = {
    Kind.NOTIFY_SCHEDULE: frozenset({"schedule_id"}),
    Kind.NOTIFY_USERS: frozenset({"users"}),
    Kind.ROUND_ROBIN: frozenset({"users"}),
    Kind.NOTIFY_TEAM: frozenset({"team"}),
    Kind.HAND_OFF: frozenset({"team"}),
    Kind.NOTIFY_MANAGER: frozenset({"team"}),
    Kind.WEBHOOK: frozenset({"webhook_url", "webhook_format"}),
    Kind.WAIT: frozenset(),
    Kind.REPEAT: frozenset({"repeat_times", "repeat_from"}),
}


@dataclass(frozen=True)
class StepInput:
    """One step as given by the API or the admin; `team` is a Team, `users` are users."""

    kind: str
    position: int | None = None
    schedule_id: int | None = None
    team: Any = None
    users: tuple = ()
    webhook_url: str = ""
    webhook_format: str = ""
    wait_minutes: float = 0.0
    repeat_times: int = 0
    repeat_from: int = 1
    condition: dict = field(default_factory=dict)


# --- validation ----------------------------------------------------------------------------


def condition_errors(condition: Any) -> list[str]:
    """What is wrong with a step condition (empty: fine). See escalation.condition_holds."""
    if condition is None or condition == {}:
        return []
    if not isinstance(condition, dict):
        return ['an object such as {"weekdays": [0, 1, 2, 3, 4], "from": "08:00", "to": "18:00"}']
    errors = []
    unknown = sorted(set(condition) - set(CONDITION_KEYS))
    if unknown:
        errors.append(f"unknown key {', '.join(unknown)}: use {', '.join(CONDITION_KEYS)}")
    if "weekdays" in condition:
        days = condition["weekdays"]
        # bool is an int in Python; true is not a weekday.
        if (
            not isinstance(days, list)
            or not days
            or any(type(day) is not int or not 0 <= day <= 6 for day in days)
        ):
            errors.append("weekdays: a non-empty list of numbers from 0 (Monday) to 6 (Sunday)")
    for key in ("from", "to"):
        value = condition.get(key)
        if key in condition and not (isinstance(value, str) and _CLOCK.match(value)):
            errors.append(f'{key}: a time "HH:MM" from 00:00 to 23:59')
    if ("from" in condition) != ("to" in condition):
        errors.append("from and to go together")
    elif "from" in condition and condition["from"] == condition["to"]:
        errors.append("from and to must differ (from after to spans midnight)")
    if "severities" in condition:
        severities = condition["severities"]
        if (
            not isinstance(severities, list)
            or not severities
            or any(s not in Severity.values for s in severities)
        ):
            errors.append(f"severities: a non-empty list of {', '.join(Severity.values)}")
    return errors


def escalation_step_errors(step: StepInput, *, ordinal: int, kinds: Sequence[str]) -> dict:
    """What is wrong with one step, by field (empty: fine). `ordinal` is its place (1 = first)
    and `kinds` the kinds of all the policy's steps in order, for repeat steps."""
    errors: dict[str, str] = {}
    if step.kind not in Kind.values:
        return {"kind": f"must be one of {', '.join(Kind.values)}"}
    if not isinstance(step.wait_minutes, int | float) or not (
        math.isfinite(step.wait_minutes) and step.wait_minutes >= 0
    ):
        errors["wait_minutes"] = "a number of minutes, 0 or more"
    if problems := condition_errors(step.condition):
        errors["condition"] = "; ".join(problems)
    if step.kind == Kind.NOTIFY_SCHEDULE:
        if not step.schedule_id:
            errors["schedule_id"] = "notify_schedule needs a schedule"
        elif not Schedule.objects.filter(pk=step.schedule_id).exists():
            errors["schedule_id"] = f"no schedule {step.schedule_id}"
    elif step.kind in (Kind.NOTIFY_USERS, Kind.ROUND_ROBIN):
        if not step.users:
            errors["users"] = f"{step.kind} needs at least one user"
        elif inactive := [u.get_username() for u in step.users if not u.is_active]:
            errors["users"] = f"deactivated: {', '.join(inactive)}"
    elif step.kind == Kind.WEBHOOK:
        errors.update(_webhook_errors(step))
    elif step.kind == Kind.REPEAT:
        errors.update(_repeat_errors(step, ordinal=ordinal, kinds=kinds))
    return errors


def _webhook_errors(step: StepInput) -> dict:
    if step.webhook_format and step.webhook_format not in WEBHOOK_FORMATS:
        return {"webhook_format": f"one of {', '.join(WEBHOOK_FORMATS)}"}
    if not step.webhook_url:
        return {"webhook_url": "a webhook step needs a URL"}
    # Slack and Teams hand out https URLs only; an in-house receiver may be plain http.
    https_only = step.webhook_format in ("slack", "teams")
    schemes = ["https"] if https_only else ["http", "https"]
    try:
        URLValidator(schemes=schemes)(step.webhook_url)
    except ValidationError:
        return {"webhook_url": "an https:// URL" if https_only else "an http:// or https:// URL"}
    return {}


def _repeat_errors(step: StepInput, *, ordinal: int, kinds: Sequence[str]) -> dict:
    errors = {}
    if not isinstance(step.repeat_times, int) or step.repeat_times < 1:
        errors["repeat_times"] = "repeat needs repeat_times of 1 or more"
    # The engine goes back to repeat_from and never runs a repeat step itself: it must point
    # before this step, at a step that does something.
    if not isinstance(step.repeat_from, int) or not 1 <= step.repeat_from < ordinal:
        errors["repeat_from"] = (
            f"a step before this one, from 1 to {ordinal - 1}"
            if ordinal > 1
            else "a repeat cannot be the first step"
        )
    elif kinds[step.repeat_from - 1] == Kind.REPEAT:
        errors["repeat_from"] = "must point at a step that is not a repeat"
    if step.condition:
        errors["condition"] = "a repeat step has no condition (the engine never checks one)"
    if step.wait_minutes:
        errors["wait_minutes"] = "a repeat step does not wait: put the wait on the step before"
    return errors


def escalation_step_normalized(step: StepInput) -> StepInput:
    """The step with the fields its kind does not use cleared (and a webhook's format set)."""
    used = KIND_FIELDS.get(step.kind, frozenset())
    cleared = {
        "schedule_id": None,
        "team": None,
        "users": (),
        "webhook_url": "",
        "webhook_format": "",
        "repeat_times": 0,
        "repeat_from": 1,
    }
    step = replace(step, **{name: value for name, value in cleared.items() if name not in used})
    if step.kind == Kind.WEBHOOK and not step.webhook_format:
        step = replace(step, webhook_format="webhook")
    return replace(step, condition=step.condition or {})


def _ordered(steps: Sequence[StepInput]) -> tuple[list[tuple[int, StepInput]], dict]:
    """The steps in policy order with their index as given; errors about positions."""
    given = [step.position for step in steps]
    if all(position is None for position in given):
        return list(enumerate(steps)), {}
    if any(position is None for position in given):
        return [], {"steps": "give every step a position, or none (list order)"}
    if len(set(given)) != len(given):
        return [], {"steps": "two steps have the same position"}
    return sorted(enumerate(steps), key=lambda pair: pair[1].position), {}


def _policy_errors(
    *, name: str, time_zone: str, ack_timeout_minutes: int, steps: Sequence[StepInput] | None
) -> tuple[list[StepInput] | None, dict]:
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "is required"
    elif len(name.strip()) > 200:
        errors["name"] = "at most 200 characters"
    if time_zone and (problem := time_zone_error(time_zone)):
        errors["time_zone"] = problem
    if not isinstance(ack_timeout_minutes, int) or ack_timeout_minutes < 0:
        errors["ack_timeout_minutes"] = "a whole number of minutes, 0 (never) or more"
    if steps is None:
        return None, errors
    if len(steps) > MAX_STEPS:
        return None, {**errors, "steps": f"at most {MAX_STEPS} steps"}
    ordered, position_errors = _ordered(steps)
    errors.update(position_errors)
    kinds = [step.kind for _, step in ordered]
    for ordinal, (index, step) in enumerate(ordered, start=1):
        for key, message in escalation_step_errors(step, ordinal=ordinal, kinds=kinds).items():
            errors[f"steps[{index}].{key}"] = message
    return [escalation_step_normalized(step) for _, step in ordered], errors


# --- services ------------------------------------------------------------------------------


def _lock_teams(*team_ids: int) -> None:
    # Writers of a team's policies take the team's row lock first, always in id order: two
    # managers making different policies the default at once then queue instead of one of
    # them failing on the one-default constraint.
    list(Team.objects.select_for_update().filter(pk__in=set(team_ids)).order_by("pk"))


def escalation_policy_defaults_clear(*, team: Team, keep: EscalationPolicy | None = None) -> int:
    """Make the team's default policy (other than `keep`) no longer the default. Call it in the
    transaction that saves the new default; it locks the team."""
    _lock_teams(team.pk)
    others = EscalationPolicy.objects.filter(team=team, is_default=True)
    if keep is not None and keep.pk:
        others = others.exclude(pk=keep.pk)
    return others.update(is_default=False, updated_at=timezone.now())


def _steps_write(policy: EscalationPolicy, steps: Sequence[StepInput]) -> None:
    """Replace the policy's steps, numbered 1, 2, 3… Rows are updated in place by position, so
    a running escalation's snapshot still points at a live row for its round-robin cursor; the
    cursor carries on while a step stays a round robin over the same people."""
    existing = list(policy.steps.order_by("position", "id").prefetch_related("users"))
    for ordinal, step in enumerate(steps, start=1):
        row = existing[ordinal - 1] if ordinal <= len(existing) else EscalationStep(policy=policy)
        user_ids = sorted(user.pk for user in step.users)
        same_rotation = (
            row.pk
            and row.kind == Kind.ROUND_ROBIN == step.kind
            and sorted(u.pk for u in row.users.all()) == user_ids
        )
        row.position = ordinal
        row.kind = step.kind
        row.schedule_id = step.schedule_id
        row.team = step.team
        row.webhook_url = step.webhook_url
        row.webhook_format = step.webhook_format
        row.wait_minutes = float(step.wait_minutes)
        row.repeat_times = step.repeat_times
        row.repeat_from = step.repeat_from
        row.condition = step.condition
        if not same_rotation:
            row.round_robin_cursor = 0
        row.save()
        row.users.set(step.users)
    EscalationStep.objects.filter(pk__in=[row.pk for row in existing[len(steps) :]]).delete()


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def escalation_policy_create(
    *,
    team: Team,
    name: str,
    steps: Sequence[StepInput] = (),
    is_default: bool = False,
    description: str = "",
    time_zone: str = "",
    ack_timeout_minutes: int = 0,
) -> EscalationPolicy:
    """A new policy for the team with its ordered steps (ValidationError naming the field,
    `steps[<index as given>].<field>` for a step). A new default replaces the old one."""
    ordered, errors = _policy_errors(
        name=name, time_zone=time_zone, ack_timeout_minutes=ack_timeout_minutes, steps=steps
    )
    _raise(errors)
    _lock_teams(team.pk)
    if is_default:
        escalation_policy_defaults_clear(team=team)
    policy = EscalationPolicy.objects.create(
        team=team,
        name=name.strip(),
        is_default=is_default,
        description=description,
        time_zone=time_zone,
        ack_timeout_minutes=ack_timeout_minutes,
    )
    _steps_write(policy, ordered or [])
    return policy


@transaction.atomic
def escalation_policy_update(
    *,
    policy: EscalationPolicy,
    name: str | None = None,
    team: Team | None = None,
    is_default: bool | None = None,
    description: str | None = None,
    time_zone: str | None = None,
    ack_timeout_minutes: int | None = None,
    steps: Sequence[StepInput] | None = None,
) -> EscalationPolicy:
    """Change what is given (None: unchanged); `steps`, when given, replace all the steps.
    Running escalations keep the snapshot they started with."""
    team = team or policy.team
    _lock_teams(policy.team_id, team.pk)
    policy = EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
    name = policy.name if name is None else name
    time_zone = policy.time_zone if time_zone is None else time_zone
    if ack_timeout_minutes is None:
        ack_timeout_minutes = policy.ack_timeout_minutes
    ordered, errors = _policy_errors(
        name=name, time_zone=time_zone, ack_timeout_minutes=ack_timeout_minutes, steps=steps
    )
    _raise(errors)
    policy.name = name.strip()
    policy.team = team
    policy.time_zone = time_zone
    policy.ack_timeout_minutes = ack_timeout_minutes
    if description is not None:
        policy.description = description
    if is_default is not None:
        policy.is_default = is_default
    if policy.is_default:
        # A move to another team takes the default flag along, replacing that team's default.
        escalation_policy_defaults_clear(team=team, keep=policy)
    policy.save()
    if ordered is not None:
        _steps_write(policy, ordered)
    return policy


@transaction.atomic
def escalation_policy_delete(*, policy: EscalationPolicy) -> None:
    """Delete a policy and its steps. Running escalations go on from their snapshots; a team
    whose default this was escalates nothing new until another policy is made the default."""
    _lock_teams(policy.team_id)
    policy.delete()


def escalation_steps_renumber(*, policy: EscalationPolicy) -> None:
    """Number the steps 1, 2, 3… in their order (the admin lets people type 10, 20, 30)."""
    for ordinal, step in enumerate(policy.steps.order_by("position", "id"), start=1):
        if step.position != ordinal:
            EscalationStep.objects.filter(pk=step.pk).update(position=ordinal)


# --- selectors: policies -------------------------------------------------------------------


def escalation_policy_list_for_user(*, user) -> QuerySet[EscalationPolicy]:
    """The policies of the teams the user may see, with their steps and people loaded."""
    steps = EscalationStep.objects.order_by("position", "id").select_related("team")
    policies = (
        EscalationPolicy.objects.select_related("team")
        .prefetch_related(Prefetch("steps", queryset=steps.prefetch_related("users")))
        .annotate(step_count=Count("steps"))
        .order_by("team__name", "name", "id")
    )
    team_ids = team_ids_visible_to(user=user)
    return policies if team_ids is None else policies.filter(team_id__in=team_ids)


def escalation_policy_get_for_user(*, user, pk: int) -> EscalationPolicy:
    """A policy the user may see; EscalationPolicy.DoesNotExist otherwise (a 404)."""
    return escalation_policy_list_for_user(user=user).get(pk=pk)


# --- selectors: addresses, notifications ---------------------------------------------------


def notification_address_masked(*, channel: str, address: str) -> str:
    """An address fit to show: a webhook's URL is its secret, so only its scheme and host."""
    if channel == "in_app":
        return "in-app"
    if channel not in WEBHOOK_CHANNELS:
        return address
    try:
        parts = urlsplit(address)
        # hostname, not netloc: a user:password@ in the URL stays hidden too.
        host = parts.hostname or ""
    except ValueError:
        return "(hidden)"
    return f"{parts.scheme}://{host}/…" if host else "(hidden)"


STEP_LABELS = {-1: "fallback", -2: "resolved notice"}


def notification_row(notification: Notification) -> dict:
    """One notification as the API and the incident page show it (never a webhook's URL)."""
    return {
        "id": notification.pk,
        "user": notification.user.get_username() if notification.user else None,
        "channel": notification.channel,
        "address": notification_address_masked(
            channel=notification.channel, address=notification.address
        ),
        "is_webhook": notification.channel in WEBHOOK_CHANNELS and notification.user is None,
        "purpose": notification.purpose,
        "status": notification.status,
        "status_label": notification.get_status_display(),
        "attempts": notification.attempts,
        "due_at": notification.due_at,
        "sent_at": notification.sent_at,
        "last_error": notification.last_error,
        "run": notification.run,
        "step": notification.step,
        "step_label": STEP_LABELS.get(notification.step, str(notification.step)),
        "repeat": notification.repeat,
        "created_at": notification.created_at,
    }


def incident_notifications(*, incident: Incident) -> QuerySet[Notification]:
    """Every notification of the incident, oldest first."""
    return (
        Notification.objects.filter(incident=incident)
        .select_related("user")
        .order_by("created_at", "id")
    )


# --- selectors: the escalation in words ----------------------------------------------------


def _last_run_index(spec: PolicySpec, *, step_index: int, repeat: int) -> int | None:
    """Which step ran last in this run, replaying the moves from the start: the escalation row
    stores where it goes next, and a repeat may have jumped back. None: nothing ran yet."""
    index, rounds, previous = 0, 0, None
    for _ in range(10_000):
        if (index, rounds) == (step_index, repeat):
            return previous
        move = next_move(spec, step_index=index, repeat=rounds)
        if move.step_index is None:
            return None
        previous, index, rounds = index, move.step_index, move.repeat
    return None


def _clock_text(at: datetime) -> str:
    zone = ZoneInfo(settings.IOC_TIME_ZONE)
    local = at.astimezone(zone)
    same_day = local.date() == timezone.now().astimezone(zone).date()
    return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def _condition_text(condition: dict) -> str:
    parts = []
    days = condition.get("weekdays")
    if days:
        days = sorted(set(days))
        consecutive = days == list(range(days[0], days[-1] + 1)) and len(days) > 2
        parts.append(
            f"{WEEKDAY_NAMES[days[0]]}-{WEEKDAY_NAMES[days[-1]]}"
            if consecutive
            else ", ".join(WEEKDAY_NAMES[day] for day in days)
        )
    if condition.get("from") and condition.get("to"):
        parts.append(f"{condition['from']}-{condition['to']}")
    if condition.get("severities"):
        parts.append(" or ".join(condition["severities"]))
    return f" (only {', '.join(parts)})" if parts else ""


def _names(model, ids) -> str:
    by_id = model.objects.in_bulk([i for i in ids if i])
    return ", ".join(str(getattr(by_id[i], "name", by_id[i])) for i in ids if i in by_id)


def _usernames(ids) -> str:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(pk__in=ids)
    return ", ".join(sorted(user.get_username() for user in users))


def escalation_step_describe(step: StepSpec) -> str:
    """A step in words, e.g. "notify the on-call of DBA on-call"; never a webhook's URL."""
    kind = step.kind
    team = (_names(Team, [step.team_id]) if step.team_id else "") or "the incident's team"
    if kind == Kind.NOTIFY_SCHEDULE:
        schedule = _names(Schedule, [step.schedule_id]) or "a deleted schedule"
        text = f"notify the on-call of {schedule}"
    elif kind == Kind.NOTIFY_USERS:
        text = f"notify {_usernames(step.user_ids) or 'nobody (no such users)'}"
    elif kind == Kind.ROUND_ROBIN:
        text = f"notify the next of {_usernames(step.user_ids) or 'nobody (no such users)'}"
    elif kind == Kind.NOTIFY_TEAM:
        text = f"notify every member of {team}"
    elif kind == Kind.HAND_OFF:
        text = f"hand off to {team} and notify its on-call"
    elif kind == Kind.NOTIFY_MANAGER:
        text = f"notify the managers of {team}"
    elif kind == Kind.WEBHOOK:
        where = notification_address_masked(channel="webhook", address=step.webhook_url)
        text = f"call the {step.webhook_format or 'webhook'} webhook at {where}"
    elif kind == Kind.WAIT:
        text = f"wait {step.wait_minutes:g} minutes"
    elif kind == Kind.REPEAT:
        text = f"repeat from step {step.repeat_from} (up to {step.repeat_times} times)"
    else:
        text = kind
    return text + _condition_text(step.condition)


def escalation_last_step_index(escalation: Escalation, *, spec: PolicySpec | None = None):
    """The index of the step that ran last in the current run, from the row alone; None
    when none has yet, or when acknowledged or stopped (the row no longer says)."""
    spec = spec or spec_from_snapshot(escalation.snapshot)
    if escalation.state == Escalation.State.ACTIVE:
        return _last_run_index(spec, step_index=escalation.step_index, repeat=escalation.repeat)
    if escalation.state == Escalation.State.EXHAUSTED and spec.steps:
        # Exhausted, the row keeps the index of the step that ran last.
        return min(escalation.step_index, len(spec.steps) - 1)
    return None


def escalation_state_for(*, incident: Incident) -> dict | None:
    """Where the incident's escalation stands, from its snapshot, with the human line, e.g.
    "Step 2 of 4, next: notify the on-call of DBA on-call at 14:05 (Europe/Berlin)". Times in
    the floor's zone (IOC_TIME_ZONE). None when the incident has no escalation."""
    escalation = Escalation.objects.filter(incident=incident).first()
    if escalation is None:
        return None
    spec = spec_from_snapshot(escalation.snapshot)
    count, zone = len(spec.steps), settings.IOC_TIME_ZONE
    state = {
        "state": escalation.state,
        "run": escalation.run,
        "policy": spec.name,
        "policy_id": spec.policy_id,
        "step": None,
        "step_number": None,
        "step_count": count,
        "repeat": escalation.repeat,
        "next_at": escalation.next_at,
        "next_step": None,
        "next_step_number": None,
        "ack_deadline": escalation.ack_deadline,
        "time_zone": zone,
        "summary": "",
    }
    last = escalation_last_step_index(escalation, spec=spec)
    if last is not None:
        state.update(step=f"{last + 1} of {count}", step_number=last + 1)
    if escalation.state == Escalation.State.ACTIVE and escalation.step_index < count:
        upcoming = spec.steps[escalation.step_index]
        state.update(
            next_step=escalation_step_describe(upcoming),
            next_step_number=escalation.step_index + 1,
        )
    state["summary"] = _summary(state, escalation, incident)
    return state


def _summary(state: dict, escalation: Escalation, incident: Incident) -> str:
    zone, count = state["time_zone"], state["step_count"]
    repeat = f" (repeat {escalation.repeat})" if escalation.repeat else ""
    if escalation.state == Escalation.State.ACTIVE:
        if not count:
            return "The policy has no steps: nobody is paged"
        when = f" at {_clock_text(escalation.next_at)} ({zone})" if escalation.next_at else ""
        if state["step"] is None:
            return f"Starting, next: step 1 of {count}, {state['next_step']}{when}"
        return f"Step {state['step']}{repeat}, next: {state['next_step']}{when}"
    if escalation.state == Escalation.State.EXHAUSTED:
        done = f" after step {state['step']}" if state["step"] else ""
        return f"Exhausted{done}{repeat}: no more steps"
    if escalation.state == Escalation.State.ACKNOWLEDGED:
        if escalation.ack_deadline:
            clock = _clock_text(escalation.ack_deadline)
            return f"Acknowledged: escalates again at {clock} ({zone}) unless resolved"
        return "Acknowledged: paging stopped"
    return f"Stopped: the incident is {incident.get_status_display().lower()}"


def incident_escalation_context(*, incident: Incident) -> dict:
    """For templates/incidents/_escalation.html: the escalation state and the notifications."""
    rows = [notification_row(n) for n in incident_notifications(incident=incident)[:200]]
    return {"escalation_state": escalation_state_for(incident=incident), "notifications": rows}
