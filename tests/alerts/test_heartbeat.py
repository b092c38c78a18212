"""Heartbeats: silence longer than the period fires an alert once; the next ping resolves it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.heartbeat import (
    HeartbeatConfig,
    heartbeat_config,
    heartbeat_missed_alert,
    heartbeat_overdue,
    heartbeats_check,
)
from alerts.ingest import deliveries_sweep
from alerts.models import Alert, InboundEvent, Integration
from alerts.services import integration_create
from alerts.sources import heartbeat as heartbeat_source
from incidents.models import Incident
from tests.base import post_alert, process

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


# --- the decision -------------------------------------------------------------------------------


def test_it_is_overdue_only_after_the_period_and_grace():
    config = HeartbeatConfig(period=timedelta(minutes=5), grace=timedelta(minutes=1))
    check = lambda seconds: heartbeat_overdue(  # noqa: E731
        last_seen=T0, now=T0 + timedelta(seconds=seconds), config=config
    )
    assert not check(299)
    assert not check(360)
    assert check(361)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, HeartbeatConfig(period=timedelta(seconds=300))),
        ({}, HeartbeatConfig(period=timedelta(seconds=300))),
        (
            {"period_seconds": 60, "grace_seconds": 30, "severity": "critical", "service": "etl"},
            HeartbeatConfig(timedelta(seconds=60), timedelta(seconds=30), "critical", "etl"),
        ),
        # A typo never silences the check: each bad value takes its default.
        (
            {"period_seconds": "60", "grace_seconds": -5, "severity": "loud", "service": 7},
            HeartbeatConfig(period=timedelta(seconds=300)),
        ),
        ({"period_seconds": 0}, HeartbeatConfig(period=timedelta(seconds=300))),
        ({"period_seconds": True}, HeartbeatConfig(period=timedelta(seconds=300))),
    ],
)
def test_it_reads_its_config_with_defaults(config, expected):
    assert heartbeat_config(config) == expected


def test_it_says_who_is_silent_and_for_how_long():
    parsed = heartbeat_missed_alert(
        integration_name="Nightly backup",
        last_seen=T0,
        now=T0 + timedelta(minutes=12, seconds=59),
        config=HeartbeatConfig(severity="critical", service="backup"),
    )
    assert parsed.summary == "No heartbeat from Nightly backup for 12 minutes"
    assert (parsed.fingerprint, parsed.name, parsed.status) == (
        "heartbeat",
        "HeartbeatMissed",
        "firing",
    )
    assert (parsed.severity, parsed.service, parsed.source) == (
        "critical",
        "backup",
        "Nightly backup",
    )


@pytest.mark.parametrize("body", [{}, {"status": "ok", "anything": [1, 2]}])
def test_it_parses_a_ping_into_a_resolve_of_the_heartbeat_fingerprint(body):
    [parsed] = heartbeat_source.parse(body, {})
    assert (parsed.fingerprint, parsed.status) == ("heartbeat", "resolved")
    assert parsed.started_at is None and parsed.ended_at is None


# --- through the webhook and the sweep ------------------------------------------------------------


@pytest.fixture
def backup(floor):
    integration, token = integration_create(name="Nightly backup", kind="heartbeat", team=floor.dba)
    return integration, token


def quiet_since(integration: Integration, minutes: float) -> None:
    """Move the integration's creation and last ping back, as if it had been silent."""
    then = timezone.now() - timedelta(minutes=minutes)
    Integration.objects.filter(pk=integration.pk).update(created_at=then, last_ping_at=None)


def ping(client, token):
    response = post_alert(client, token, {})
    assert response.status_code == 202
    return response


def test_it_takes_an_empty_object_as_a_ping(client, backup):
    integration, token = backup
    response = ping(client, token)
    process()
    integration.refresh_from_db()
    event = InboundEvent.objects.get(pk=response.json()["delivery_id"])
    assert event.status == "processed"
    assert integration.last_ping_at == event.received_at
    assert Alert.objects.count() == 0


def test_it_refuses_a_ping_that_is_not_an_object(client, backup):
    _, token = backup
    assert post_alert(client, token, "[]").status_code == 400


def test_it_fires_once_when_overdue_and_a_ping_resolves_it(client, floor, backup):
    integration, token = backup
    quiet_since(integration, 10)
    assert heartbeats_check() == 1
    alert = Alert.objects.get()
    assert (alert.name, alert.status, alert.severity, alert.fingerprint) == (
        "HeartbeatMissed",
        "firing",
        "high",
        "heartbeat",
    )
    assert alert.summary == "No heartbeat from Nightly backup for 10 minutes"
    assert alert.incident.team == floor.dba
    assert alert.incident.severity == "SEV3"
    # Still silent: no second alert, no repeat.
    assert heartbeats_check() == 0
    assert Alert.objects.get().count == 1
    ping(client, token)
    process()
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert heartbeats_check() == 0
    assert Alert.objects.count() == 1
    assert Incident.objects.count() == 1


def test_it_fires_again_when_silent_again_after_a_ping(client, backup):
    integration, token = backup
    quiet_since(integration, 10)
    heartbeats_check()
    ping(client, token)
    process()
    Integration.objects.filter(pk=integration.pk).update(
        last_ping_at=timezone.now() - timedelta(minutes=6)
    )
    assert heartbeats_check() == 1
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == [
        "resolved",
        "firing",
    ]


def test_it_waits_for_the_period_and_grace_of_the_integration(client, backup):
    integration, _ = backup
    integration.config = {"period_seconds": 600, "grace_seconds": 120, "severity": "critical"}
    integration.save()
    quiet_since(integration, 11.5)
    assert heartbeats_check() == 0
    quiet_since(integration, 12.5)
    assert heartbeats_check() == 1
    assert Alert.objects.get().severity == "critical"


def test_it_stays_quiet_after_a_recent_ping(client, backup):
    integration, token = backup
    quiet_since(integration, 60)
    ping(client, token)
    process()
    assert heartbeats_check() == 0


def test_it_counts_a_ping_not_yet_processed(client, backup):
    integration, token = backup
    quiet_since(integration, 60)
    ping(client, token)  # accepted, still pending: processing lags
    assert heartbeats_check() == 0
    assert Alert.objects.count() == 0


def test_it_skips_disabled_integrations(backup):
    integration, _ = backup
    quiet_since(integration, 60)
    Integration.objects.filter(pk=integration.pk).update(enabled=False)
    assert heartbeats_check() == 0


def test_it_ignores_other_kinds(floor):
    quiet_since(floor.integration, 60)
    assert heartbeats_check() == 0


def test_it_is_checked_by_the_sweep(backup):
    integration, _ = backup
    quiet_since(integration, 10)
    deliveries_sweep()
    assert Alert.objects.get().name == "HeartbeatMissed"
