"""A processing batch reads and writes in bulk (alerts/batch.py): its statement count does not
grow with its alerts, and one delivery that breaks it costs only that delivery."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import ingest
from alerts.models import Alert, InboundEvent
from incidents.models import Incident, IncidentEvent
from tests.base import post_alert, process


def alert(n: int, **extra) -> dict:
    return {
        "summary": f"Disk full on db-{n:02d}",
        "name": "DiskFull",
        "service": "payments-db",
        "source": f"db-{n:02d}",
        "severity": "warning",
        "dedup_key": f"disk:db-{n:02d}",
        **extra,
    }


def statements_to_process(client, token: str, bodies: list[dict]) -> int:
    for body in bodies:
        post_alert(client, token, body)
    with CaptureQueriesContext(connection) as queries:
        process()
    return len(queries)


def test_repeats_cost_the_same_statements_for_ten_or_a_hundred_alerts(client, floor):
    statements_to_process(client, floor.token, [alert(n) for n in range(100)])
    ten = statements_to_process(client, floor.token, [alert(n) for n in range(10)])
    hundred = statements_to_process(client, floor.token, [alert(n) for n in range(100)])
    assert hundred == ten
    assert hundred < 25
    assert Alert.objects.count() == 100
    assert set(Alert.objects.values_list("count", flat=True)) == {3} | {2}
    assert Alert.objects.filter(count=3).count() == 10


def test_new_alerts_of_one_group_look_their_incident_up_once(client, floor):
    statements_to_process(client, floor.token, [alert(0)])  # opens the group's incident
    few = statements_to_process(client, floor.token, [alert(n) for n in range(1, 11)])
    many = statements_to_process(client, floor.token, [alert(n) for n in range(11, 61)])
    # One INSERT per new alert; grouping, timeline, recount and deliveries are per batch.
    assert many - few == 40
    incident = Incident.objects.get()
    assert incident.alert_count == 61
    assert IncidentEvent.objects.filter(incident=incident, kind="alert_attached").count() == 61


def test_fire_resolve_fire_of_one_fingerprint_in_one_batch(client, floor):
    bodies = [alert(1), alert(1, status="resolved"), alert(1), alert(1)]
    statements_to_process(client, floor.token, bodies)
    first, second = Alert.objects.order_by("id")
    assert (first.status, second.status, second.count) == ("resolved", "firing", 2)
    assert first.incident_id == second.incident_id
    incident = Incident.objects.get()
    assert incident.alert_count == 2
    kinds = list(
        IncidentEvent.objects.filter(incident=incident, kind__startswith="alert_")
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["alert_attached", "alert_resolved", "alert_attached"]


@pytest.mark.batch_fallback
def test_a_delivery_that_breaks_the_batch_costs_only_itself(client, floor, monkeypatch):
    apply = ingest.alert_apply

    def broken_for_db_03(**kwargs):
        if kwargs["parsed"].source == "db-03":
            raise ZeroDivisionError("a bug of ours")
        return apply(**kwargs)

    monkeypatch.setattr(ingest, "alert_apply", broken_for_db_03)
    statements_to_process(client, floor.token, [alert(n) for n in range(6)])
    statuses = dict(InboundEvent.objects.values_list("body", "status"))
    failed = InboundEvent.objects.get(status="failed")
    assert "db-03" in failed.body
    assert failed.error == "internal error: ZeroDivisionError: a bug of ours"
    assert list(statuses.values()).count("processed") == 5
    assert sorted(Alert.objects.values_list("source", flat=True)) == [
        "db-00",
        "db-01",
        "db-02",
        "db-04",
        "db-05",
    ]
    assert Incident.objects.get().alert_count == 5


def test_a_severity_raised_by_a_repeat_is_not_lowered_by_a_later_join(client, floor):
    bodies = [
        alert(1, severity="warning"),
        alert(1, severity="critical"),  # repeat: raises the incident to SEV2
        alert(2, severity="high"),  # joins the same group: SEV3 must not lower it
    ]
    statements_to_process(client, floor.token, bodies)
    incident = Incident.objects.get()
    assert incident.severity == "SEV2"
    raised = IncidentEvent.objects.filter(incident=incident, kind="severity_changed")
    assert [event.data["to"] for event in raised] == ["SEV2"]


@pytest.mark.batch_fallback
def test_a_database_error_leaves_the_delivery_pending_a_few_times_then_failed(
    client, floor, monkeypatch
):
    from django.db import OperationalError

    def connection_lost(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ingest, "alert_apply", connection_lost)
    post_alert(client, floor.token, alert(1))
    for attempt in range(1, ingest.DATABASE_ERROR_ATTEMPTS):
        process()
        event = InboundEvent.objects.get()
        assert (event.status, event.attempts) == ("pending", attempt)
        assert event.error.startswith("will retry: server closed")
    process()
    event = InboundEvent.objects.get()
    assert (event.status, event.attempts) == ("failed", ingest.DATABASE_ERROR_ATTEMPTS)
    assert "server closed the connection" in event.error
