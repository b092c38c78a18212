"""The pure side of escalation: conditions, moves with repeats, keys. No database."""

from datetime import UTC, datetime

import pytest

from incidents.escalation import (
    PolicySpec,
    StepSpec,
    condition_holds,
    next_move,
    notification_key,
    spec_from_snapshot,
)


def spec(*kinds_and_args) -> PolicySpec:
    steps = []
    for position, item in enumerate(kinds_and_args, start=1):
        kind, extra = (item, {}) if isinstance(item, str) else item
        steps.append(StepSpec(step_id=position, position=position, kind=kind, **extra))
    return PolicySpec(
        policy_id=1, name="p", time_zone="Europe/Berlin", ack_timeout_minutes=0, steps=tuple(steps)
    )


def test_it_walks_the_steps_in_order_then_is_exhausted():
    policy = spec("notify_schedule", "wait", "notify_manager")
    assert next_move(policy, step_index=0, repeat=0).step_index == 1
    assert next_move(policy, step_index=1, repeat=0).step_index == 2
    assert next_move(policy, step_index=2, repeat=0).step_index is None


def test_a_repeat_step_goes_back_a_bounded_number_of_times():
    policy = spec(
        "notify_schedule", "notify_manager", ("repeat", {"repeat_times": 2, "repeat_from": 1})
    )
    assert next_move(policy, step_index=1, repeat=0) == next_move(policy, step_index=1, repeat=0)
    first = next_move(policy, step_index=1, repeat=0)
    assert (first.step_index, first.repeat) == (0, 1)
    second = next_move(policy, step_index=1, repeat=1)
    assert (second.step_index, second.repeat) == (0, 2)
    assert next_move(policy, step_index=1, repeat=2).step_index is None


def test_a_repeat_can_start_from_a_chosen_step():
    policy = spec(
        "notify_users",
        "notify_schedule",
        "notify_manager",
        ("repeat", {"repeat_times": 1, "repeat_from": 2}),
    )
    move = next_move(policy, step_index=2, repeat=0)
    assert (move.step_index, move.repeat) == (1, 1)


BUSINESS_HOURS = {"weekdays": [0, 1, 2, 3, 4], "from": "08:00", "to": "18:00"}
NIGHTS = {"from": "18:00", "to": "08:00"}


@pytest.mark.parametrize(
    ("utc", "condition", "expected"),
    [
        # Tuesday 2026-11-24 09:30 UTC = 10:30 in Berlin (CET, +1): business hours.
        (datetime(2026, 11, 24, 9, 30, tzinfo=UTC), BUSINESS_HOURS, True),
        # 17:30 UTC = 18:30 Berlin: outside business hours, inside nights.
        (datetime(2026, 11, 24, 17, 30, tzinfo=UTC), BUSINESS_HOURS, False),
        (datetime(2026, 11, 24, 17, 30, tzinfo=UTC), NIGHTS, True),
        # Saturday.
        (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), BUSINESS_HOURS, False),
        # Summer time: 2026-07-07 06:30 UTC = 08:30 CEST (+2): business hours.
        (datetime(2026, 7, 7, 6, 30, tzinfo=UTC), BUSINESS_HOURS, True),
        # 06:30 UTC in winter = 07:30 CET: still night.
        (datetime(2026, 11, 24, 6, 30, tzinfo=UTC), NIGHTS, True),
        (datetime(2026, 11, 24, 6, 30, tzinfo=UTC), BUSINESS_HOURS, False),
    ],
)
def test_conditions_use_the_policy_time_zone(utc, condition, expected):
    assert (
        condition_holds(condition, at=utc, time_zone="Europe/Berlin", severity="SEV3") is expected
    )


def test_a_severity_condition():
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    only_major = {"severities": ["SEV1", "SEV2"]}
    assert condition_holds(only_major, at=at, time_zone="UTC", severity="SEV1")
    assert not condition_holds(only_major, at=at, time_zone="UTC", severity="SEV3")
    assert condition_holds({}, at=at, time_zone="UTC", severity="SEV4")


def test_keys_differ_by_run_step_repeat_user_method_and_rule():
    base = dict(incident_id=7, run=1, step=2, repeat=0, user_id=3, contact_method_id=9, rule=0)
    keys = {notification_key(**base)}
    for name, value in [
        ("run", 2),
        ("step", 3),
        ("repeat", 1),
        ("user_id", 4),
        ("contact_method_id", 10),
        ("rule", 1),
    ]:
        keys.add(notification_key(**{**base, name: value}))
    keys.add(notification_key(**base, purpose="resolved"))
    assert len(keys) == 8
    assert notification_key(**base) == notification_key(**base)


def test_a_snapshot_round_trips():
    snapshot = {
        "policy_id": 4,
        "name": "DBA",
        "time_zone": "UTC",
        "ack_timeout_minutes": 15,
        "steps": [
            {
                "step_id": 1,
                "position": 1,
                "kind": "notify_users",
                "schedule_id": None,
                "team_id": None,
                "user_ids": [5, 6],
                "webhook_url": "",
                "webhook_format": "",
                "wait_minutes": 2.5,
                "repeat_times": 0,
                "repeat_from": 1,
                "condition": {},
            }
        ],
    }
    parsed = spec_from_snapshot(snapshot)
    assert parsed.ack_timeout_minutes == 15
    assert parsed.steps[0].user_ids == (5, 6)
    assert parsed.steps[0].wait_minutes == 2.5
