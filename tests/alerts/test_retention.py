"""Retention: processed deliveries go after 7 days, failed ones after 30, in batches; pending
deliveries and alerts are never deleted."""

import itertools
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import ingest
from alerts.flapping import flap_states_prune
from alerts.ingest import deliveries_sweep
from alerts.models import Alert, FlapState, InboundEvent
from alerts.retention import deliveries_prune
from incidents.models import Incident
from tests.base import post_alert, process

SERIAL = itertools.count()


def deliver(client, floor, count: int, body=None) -> list[int]:
    """Post `count` deliveries; by default each about another problem (its own alert)."""
    ids = []
    for _ in range(count):
        response = post_alert(client, floor.token, body or {"summary": f"disk {next(SERIAL)}"})
        ids.append(response.json()["delivery_id"])
    return ids


def age(ids: list[int], days: float) -> None:
    """Move deliveries back in time, as if they had been received and processed days ago."""
    then = timezone.now() - timedelta(days=days)
    InboundEvent.objects.filter(pk__in=ids).update(received_at=then)
    InboundEvent.objects.filter(pk__in=ids).exclude(status="pending").update(processed_at=then)


def remaining() -> set[int]:
    return set(InboundEvent.objects.values_list("pk", flat=True))


def test_it_deletes_processed_deliveries_after_seven_days_and_keeps_the_alerts(client, floor):
    old = deliver(client, floor, 2)
    recent = deliver(client, floor, 1)
    process()
    age(old, 7.1)
    age(recent, 6.9)
    assert deliveries_prune() == 2
    assert remaining() == set(recent)
    assert Alert.objects.count() == 3
    assert Incident.objects.count() == 3


def test_it_keeps_failed_deliveries_for_thirty_days(client, floor):
    # Valid at the door, refused by the parser: kept with its error for the admin.
    failed = deliver(client, floor, 2, body={"summary": "x", "status": "exploded"})
    process()
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"failed"}
    age(failed[:1], 29)
    age(failed[1:], 31)
    assert deliveries_prune() == 1
    assert remaining() == set(failed[:1])


def test_it_never_deletes_pending_deliveries(client, floor):
    pending = deliver(client, floor, 2)
    age(pending, 400)
    assert deliveries_prune() == 0
    assert remaining() == set(pending)


def test_it_deletes_in_batches(client, floor):
    old = deliver(client, floor, 7)
    process()
    age(old, 8)
    with CaptureQueriesContext(connection) as queries:
        assert deliveries_prune(batch_size=3) == 7
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 3 + 3 + 1
    assert remaining() == set()


def test_it_takes_the_retention_days_from_settings(client, floor, settings):
    settings.IOC_RETENTION_PROCESSED_DAYS = 1
    old = deliver(client, floor, 1)
    process()
    age(old, 2)
    settings.IOC_RETENTION_PROCESSED_DAYS = 0  # 0 keeps them
    assert deliveries_prune() == 0
    settings.IOC_RETENTION_PROCESSED_DAYS = 1
    assert deliveries_prune() == 1


def test_it_runs_in_the_sweep_at_most_once_a_minute(client, floor, monkeypatch):
    monkeypatch.setattr(ingest, "_retention_last_run", None)
    first = deliver(client, floor, 1)
    process()
    age(first, 8)
    deliveries_sweep()
    assert remaining() == set()
    second = deliver(client, floor, 1, body={"summary": "another"})
    process()
    age(second, 8)
    deliveries_sweep()
    assert remaining() == set(second)  # within the minute: not yet


def test_it_prunes_flap_histories_that_can_no_longer_count(client, floor):
    for key in ("old", "recent", "flapping"):
        post_alert(client, floor.token, {"summary": key, "dedup_key": key})
    process()
    long_ago = timezone.now() - timedelta(minutes=11)
    FlapState.objects.filter(fingerprint="old").update(last_change_at=long_ago)
    # Still marked flapping: ending it is the sweep's job (it may owe an incident), not this one.
    FlapState.objects.filter(fingerprint="flapping").update(last_change_at=long_ago, flapping=True)
    assert flap_states_prune(now=timezone.now()) == 1
    assert set(FlapState.objects.values_list("fingerprint", flat=True)) == {"recent", "flapping"}
    assert Alert.objects.count() == 3
