"""Fixtures shared by the incident tests."""

from datetime import timedelta

import pytest
from django.utils import timezone

from teams.services import LayerInput, schedule_create


@pytest.fixture
def dba_schedule(floor):
    return schedule_create(
        team=floor.dba,
        name="DBA on-call",
        time_zone="UTC",
        layers=[
            LayerInput(
                name="primary",
                start=timezone.now().date() - timedelta(days=1),
                rotation_kind="weekly",
                users=[floor.dave],
            )
        ],
    )
