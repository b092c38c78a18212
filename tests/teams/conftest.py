"""An on-call schedule on the floor of tests/base.py, built through the services.

The first line's daily rotation (UTC, hand-off at midnight) started yesterday with alice, so
today bob is on call and alice comes next, whatever day the suite runs."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from teams.models import Membership, Schedule
from teams.services import LayerInput, membership_set, schedule_create


@pytest.fixture
def bob(floor):
    user = get_user_model().objects.create_user(
        "bob", email="bob@example.org", password="pw-bob-123"
    )
    membership_set(user=user, team=floor.first_line, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def today():
    return timezone.now().astimezone(UTC).date()


@pytest.fixture
def schedule(floor, bob, today) -> Schedule:
    return schedule_create(
        team=floor.first_line,
        name="Primary",
        time_zone="UTC",
        layers=[
            LayerInput(
                name="daily",
                start=today - timedelta(days=1),
                rotation_kind="daily",
                handoff_time=time(0, 0),
                users=[floor.alice, bob],
            )
        ],
    )


@pytest.fixture
def midnight(today) -> datetime:
    """Today's hand-off, 00:00 UTC."""
    return datetime.combine(today, time(), tzinfo=UTC)
