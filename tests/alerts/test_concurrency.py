"""Parallel processing on PostgreSQL: one alert per fingerprint, one incident per group."""

import pytest

from alerts.ingest import deliveries_process_batch
from alerts.models import Alert, InboundEvent
from incidents.models import Incident
from tests.base import post_alert, run_concurrently


def drain():
    while deliveries_process_batch():
        pass


@pytest.mark.django_db(transaction=True)
def test_parallel_workers_make_one_alert_per_fingerprint(client, settings):
    from tests.base import Floor

    floor = Floor()
    settings.IOC_PROCESS_BATCH_SIZE = 5
    for n in range(60):
        # Ten fingerprints, six deliveries each, interleaved.
        post_alert(client, floor.token, {"summary": f"disk full {n % 10}", "service": "db"})
    errors = run_concurrently(drain, [()] * 4)
    assert errors == []
    assert InboundEvent.objects.filter(status="processed").count() == 60
    assert Alert.objects.count() == 10
    assert sorted(Alert.objects.values_list("count", flat=True)) == [6] * 10
    # Ten alert names -> ten incidents; each got exactly one number.
    assert Incident.objects.count() == 10
    assert sorted(Incident.objects.values_list("number", flat=True)) == list(range(1, 11))
    assert all(i.alert_count == 1 for i in Incident.objects.all())


@pytest.mark.django_db(transaction=True)
def test_racing_deliveries_of_one_group_open_one_incident(client, settings):
    from tests.base import Floor

    floor = Floor()
    settings.IOC_PROCESS_BATCH_SIZE = 1
    for n in range(12):
        post_alert(
            client,
            floor.token,
            {"summary": "link down", "name": "LinkDown", "source": f"host-{n}", "service": "net"},
        )
    assert run_concurrently(drain, [()] * 4) == []
    assert Alert.objects.count() == 12
    incident = Incident.objects.get()
    assert incident.alert_count == 12
    assert incident.events.filter(kind="alert_attached").count() == 12
