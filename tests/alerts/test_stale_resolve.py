"""A resolve older than the current firing, by the source's own clock, is ignored."""

from datetime import UTC, datetime

import pytest

from alerts.ingest import resolve_is_stale
from alerts.models import Alert, InboundEvent
from alerts.services import integration_create
from alerts.sources import ParsedAlert
from incidents.models import IncidentEvent
from tests.base import post_alert, process

DISK = {"summary": "Disk 95% full on db-01", "dedup_key": "db-01/disk", "name": "DiskFull"}


def at(hh_mm: str) -> datetime:
    hours, minutes = hh_mm.split(":")
    return datetime(2026, 11, 25, int(hours), int(minutes), tzinfo=UTC)


def iso(hh_mm: str) -> str:
    return at(hh_mm).isoformat()


def result_of(response) -> dict:
    return InboundEvent.objects.get(pk=response.json()["delivery_id"]).result["alerts"][0]


@pytest.mark.parametrize(
    ("firing", "ended", "started", "stale"),
    [
        ("10:10", "10:05", None, True),
        ("10:10", None, "10:00", True),  # no end: the resolve's start is what it has
        ("10:10", "10:15", "10:00", False),
        ("10:10", "10:10", None, False),  # not older: the same instant applies
        ("10:10", None, None, False),
        (None, "10:05", None, False),
    ],
)
def test_it_compares_the_resolve_with_the_current_firing(firing, ended, started, stale):
    parsed = ParsedAlert(
        fingerprint="f",
        summary="s",
        status="resolved",
        ended_at=at(ended) if ended else None,
        started_at=at(started) if started else None,
    )
    assert (
        resolve_is_stale(firing_started_at=at(firing) if firing else None, parsed=parsed) is stale
    )


def test_it_ignores_a_resolve_older_than_the_current_firing(client, floor):
    post_alert(client, floor.token, {**DISK, "started_at": iso("10:00")})
    # The source resolved at 10:05 and fired again at 10:10; the new firing overtook the resolve.
    post_alert(client, floor.token, {**DISK, "started_at": iso("10:10")})
    late = post_alert(
        client,
        floor.token,
        {**DISK, "status": "resolved", "started_at": iso("10:00"), "ended_at": iso("10:05")},
    )
    process()
    alert = Alert.objects.get()
    assert alert.status == "firing"
    assert alert.resolved_at is None
    assert alert.source_started_at == at("10:10")
    assert result_of(late)["action"] == "stale_resolve"
    assert InboundEvent.objects.get(pk=late.json()["delivery_id"]).status == "processed"
    assert not alert.incident.events.filter(kind=IncidentEvent.Kind.ALERT_RESOLVED).exists()


def test_it_applies_a_newer_resolve_and_keeps_the_source_end_time(client, floor):
    post_alert(client, floor.token, {**DISK, "started_at": iso("10:10")})
    response = post_alert(
        client, floor.token, {**DISK, "status": "resolved", "ended_at": iso("10:20")}
    )
    process()
    alert = Alert.objects.get()
    assert alert.status == "resolved"
    assert alert.resolved_at == at("10:20")
    assert result_of(response)["action"] == "resolved"


def test_it_applies_an_out_of_order_resolve_without_times(client, floor):
    post_alert(client, floor.token, {**DISK, "started_at": iso("10:00")})
    post_alert(client, floor.token, {**DISK, "started_at": iso("10:10")})
    # Nothing to compare: the resolve applies, as it always did.
    response = post_alert(client, floor.token, {**DISK, "status": "resolved"})
    process()
    assert Alert.objects.get().status == "resolved"
    assert result_of(response)["action"] == "resolved"


def test_it_applies_a_timed_resolve_to_an_alert_fired_without_times(client, floor):
    post_alert(client, floor.token, DISK)
    post_alert(client, floor.token, {**DISK, "status": "resolved", "ended_at": iso("09:00")})
    process()
    assert Alert.objects.get().status == "resolved"


def test_it_never_moves_the_firing_start_back(client, floor):
    post_alert(client, floor.token, {**DISK, "started_at": iso("10:10")})
    post_alert(client, floor.token, {**DISK, "started_at": iso("10:00")})
    response = post_alert(
        client, floor.token, {**DISK, "status": "resolved", "ended_at": iso("10:05")}
    )
    process()
    assert Alert.objects.get().source_started_at == at("10:10")
    assert result_of(response)["action"] == "stale_resolve"


def test_it_ignores_a_late_alertmanager_resolve(client, floor):
    _, token = integration_create(name="AM", kind="alertmanager", team=floor.first_line)

    def notification(status: str, starts: str, ends: str = "0001-01-01T00:00:00Z") -> dict:
        alert = {
            "status": status,
            "labels": {"alertname": "DiskFull", "instance": "db-01:9100", "severity": "warning"},
            "annotations": {"summary": "Disk full on db-01"},
            "startsAt": starts,
            "endsAt": ends,
            "fingerprint": "0f3e8a7c55d21b90",
        }
        return {"version": "4", "status": status, "alerts": [alert]}

    post_alert(client, token, notification("firing", iso("10:00")))
    post_alert(client, token, notification("firing", iso("10:10")))
    late = post_alert(client, token, notification("resolved", iso("10:00"), iso("10:05")))
    process()
    assert Alert.objects.get().status == "firing"
    assert result_of(late)["action"] == "stale_resolve"
    fresh = post_alert(client, token, notification("resolved", iso("10:10"), iso("10:20")))
    process()
    alert = Alert.objects.get()
    assert (alert.status, alert.resolved_at) == ("resolved", at("10:20"))
    assert result_of(fresh)["action"] == "resolved"
