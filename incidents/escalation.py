"""Escalation policy as plain data, and the pure decisions on it: step conditions (time of day,
weekday, severity), where the escalation goes next (with repeats), and notification keys.

The engine that applies them lives in escalation_engine.py; sending in notifications.py.
"""

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings

from .escalation_models import EscalationPolicy, EscalationStep

# --- pure: the policy as plain data ---


@dataclass(frozen=True)
class StepSpec:
    step_id: int
    position: int
    kind: str
    schedule_id: int | None = None
    team_id: int | None = None
    user_ids: tuple[int, ...] = ()
    webhook_url: str = ""
    webhook_format: str = ""
    wait_minutes: float = 0.0
    repeat_times: int = 0
    repeat_from: int = 1
    condition: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PolicySpec:
    policy_id: int | None
    name: str
    time_zone: str
    ack_timeout_minutes: int
    steps: tuple[StepSpec, ...]


def policy_snapshot(policy: EscalationPolicy) -> dict:
    """The policy as JSON, copied onto the incident when escalation starts."""
    steps = []
    for step in policy.steps.order_by("position", "id").prefetch_related("users"):
        steps.append(
            {
                "step_id": step.pk,
                "position": step.position,
                "kind": step.kind,
                "schedule_id": step.schedule_id,
                "team_id": step.team_id,
                "user_ids": sorted(u.pk for u in step.users.all()),
                "webhook_url": step.webhook_url,
                "webhook_format": step.webhook_format,
                "wait_minutes": step.wait_minutes,
                "repeat_times": step.repeat_times,
                "repeat_from": step.repeat_from,
                "condition": step.condition or {},
            }
        )
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "time_zone": policy.time_zone or settings.IOC_TIME_ZONE,
        "ack_timeout_minutes": policy.ack_timeout_minutes,
        "steps": steps,
    }


def spec_from_snapshot(snapshot: dict) -> PolicySpec:
    return PolicySpec(
        policy_id=snapshot.get("policy_id"),
        name=snapshot.get("name", ""),
        time_zone=snapshot.get("time_zone") or "UTC",
        ack_timeout_minutes=int(snapshot.get("ack_timeout_minutes") or 0),
        steps=tuple(
            StepSpec(**{**step, "user_ids": tuple(step.get("user_ids", ()))})
            for step in snapshot.get("steps", [])
        ),
    )


def _clock(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes or 0))


def condition_holds(condition: dict, *, at: datetime, time_zone: str, severity: str) -> bool:
    """Does a step's condition hold? Time of day and weekday in the policy's zone; severity.
    `from` after `to` spans midnight (nights: from 18:00 to 08:00)."""
    if not condition:
        return True
    local = at.astimezone(ZoneInfo(time_zone))
    severities = condition.get("severities")
    if severities and severity not in severities:
        return False
    weekdays = condition.get("weekdays")
    if weekdays is not None and local.weekday() not in weekdays:
        return False
    start, end = condition.get("from"), condition.get("to")
    if start and end:
        now, begin, finish = local.time(), _clock(start), _clock(end)
        inside = begin <= now < finish if begin <= finish else (now >= begin or now < finish)
        if not inside:
            return False
    return True


@dataclass(frozen=True)
class Move:
    """Where the escalation goes after a step."""

    step_index: int | None  # None: the policy is exhausted
    repeat: int


def next_move(spec: PolicySpec, *, step_index: int, repeat: int) -> Move:
    """The position after running the step at step_index, following repeat steps."""
    index = step_index + 1
    while index < len(spec.steps):
        step = spec.steps[index]
        if step.kind != EscalationStep.Kind.REPEAT:
            return Move(index, repeat)
        if repeat < step.repeat_times:
            return Move(max(0, min(step.repeat_from - 1, len(spec.steps) - 1)), repeat + 1)
        index += 1
    return Move(None, repeat)


def notification_key(
    *,
    incident_id: int,
    run: int,
    step: int,
    repeat: int,
    user_id,
    contact_method_id,
    rule: int,
    purpose: str = "page",
) -> str:
    return (
        f"{purpose}:{incident_id}:{run}:{step}:{repeat}:{user_id or '-'}:"
        f"{contact_method_id or '-'}:{rule}"
    )
