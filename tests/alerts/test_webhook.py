"""The generic webhook path: accept, process, dedup, resolve, incident grouping."""

import pytest

from alerts.models import Alert, InboundEvent
from incidents.models import Incident, IncidentEvent
from tests.base import post_alert, process

DISK = {
    "summary": "Disk 95% full on db-01",
    "severity": "high",
    "source": "db-01",
    "service": "payments-db",
    "name": "DiskFull",
}


def test_it_accepts_and_stores_the_raw_delivery(client, floor):
    response = post_alert(client, floor.token, DISK)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    event = InboundEvent.objects.get(pk=body["delivery_id"])
    assert event.status == "pending"
    assert event.integration == floor.integration
    assert '"Disk 95% full on db-01"' in event.body
    # Nothing is processed inside the request.
    assert Alert.objects.count() == 0


def test_it_turns_a_delivery_into_an_alert_and_an_incident(client, floor):
    post_alert(client, floor.token, DISK)
    assert process() == 1
    alert = Alert.objects.get()
    assert (alert.status, alert.severity, alert.source, alert.service, alert.name) == (
        "firing",
        "high",
        "db-01",
        "payments-db",
        "DiskFull",
    )
    incident = alert.incident
    assert incident.team == floor.first_line
    assert incident.title == "Disk 95% full on db-01"
    assert incident.severity == "SEV3"  # high -> SEV3
    assert incident.status == "triggered"
    assert incident.alert_count == 1
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == ["opened", "alert_attached"]
    assert InboundEvent.objects.get().status == "processed"


def test_it_deduplicates_on_the_fingerprint(client, floor):
    for _ in range(3):
        post_alert(client, floor.token, DISK)
    process()
    alert = Alert.objects.get()
    assert alert.count == 3
    assert Incident.objects.count() == 1
    assert Incident.objects.get().alert_count == 1


def test_it_uses_dedup_key_as_the_fingerprint(client, floor):
    post_alert(client, floor.token, {**DISK, "dedup_key": "disk-db-01"})
    post_alert(client, floor.token, {**DISK, "summary": "Disk 97% full", "dedup_key": "disk-db-01"})
    process()
    alert = Alert.objects.get()
    assert alert.fingerprint == "disk-db-01"
    assert alert.count == 2
    assert alert.summary == "Disk 97% full"


def test_it_resolves_the_alert_and_records_it_on_the_timeline(client, floor):
    post_alert(client, floor.token, DISK)
    post_alert(client, floor.token, {**DISK, "status": "resolved"})
    process()
    alert = Alert.objects.get()
    assert alert.status == "resolved"
    assert alert.resolved_at is not None
    assert alert.incident.events.filter(kind=IncidentEvent.Kind.ALERT_RESOLVED).count() == 1


def test_a_resolve_for_an_unknown_fingerprint_creates_nothing(client, floor):
    response = post_alert(client, floor.token, {**DISK, "status": "resolved"})
    process()
    assert Alert.objects.count() == 0
    assert Incident.objects.count() == 0
    event = InboundEvent.objects.get(pk=response.json()["delivery_id"])
    assert event.status == "processed"
    assert event.result["alerts"][0]["action"] == "unknown_resolve"


def test_a_fire_after_resolve_opens_a_new_alert(client, floor):
    post_alert(client, floor.token, DISK)
    post_alert(client, floor.token, {**DISK, "status": "resolved"})
    post_alert(client, floor.token, DISK)
    process()
    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == [
        "resolved",
        "firing",
    ]
    # The incident was still open, so the new alert joins it.
    assert Incident.objects.count() == 1
    assert Incident.objects.get().alert_count == 2


def test_a_resolved_incident_is_not_joined_again(client, floor):
    post_alert(client, floor.token, DISK)
    process()
    incident = Incident.objects.get()
    api = floor.client_for(floor.alice)
    assert api.post(f"/incidents/{incident.pk}/resolve/").status_code == 200
    post_alert(client, floor.token, {**DISK, "dedup_key": "another"})
    process()
    assert Incident.objects.count() == 2


def test_alerts_with_another_service_or_name_open_another_incident(client, floor):
    post_alert(client, floor.token, DISK)
    post_alert(client, floor.token, {**DISK, "service": "ledger-db"})
    post_alert(client, floor.token, {**DISK, "name": "DiskInodes", "summary": "Inodes"})
    process()
    assert Incident.objects.count() == 3
    assert sorted(Incident.objects.values_list("number", flat=True)) == [1, 2, 3]


def test_a_joining_alert_raises_severity_but_never_lowers_it(client, floor):
    post_alert(client, floor.token, {**DISK, "severity": "warning", "source": "db-01"})
    process()
    incident = Incident.objects.get()
    assert incident.severity == "SEV4"
    post_alert(client, floor.token, {**DISK, "severity": "critical", "source": "db-02"})
    process()
    incident.refresh_from_db()
    assert incident.severity == "SEV2"
    post_alert(client, floor.token, {**DISK, "severity": "info", "source": "db-03"})
    process()
    incident.refresh_from_db()
    assert incident.severity == "SEV2"
    assert incident.alert_count == 3
    assert incident.events.filter(kind="severity_changed").count() == 1


@pytest.mark.parametrize(
    ("alert_severity", "incident_severity"),
    [("critical", "SEV2"), ("high", "SEV3"), ("warning", "SEV4"), ("info", "SEV4")],
)
def test_it_maps_alert_severity_to_incident_severity(
    client, floor, alert_severity, incident_severity
):
    post_alert(client, floor.token, {"summary": "x", "severity": alert_severity})
    process()
    assert Incident.objects.get().severity == incident_severity


def test_an_unknown_severity_takes_the_integration_default_and_keeps_the_raw_value(client, floor):
    post_alert(client, floor.token, {"summary": "x", "severity": "Disaster"})
    process()
    alert = Alert.objects.get()
    assert alert.severity == "warning"
    assert alert.labels["source_severity"] == "disaster"


def test_processing_twice_changes_nothing(client, floor):
    post_alert(client, floor.token, DISK)
    assert process() == 1
    assert process() == 0
    assert Alert.objects.get().count == 1


def test_a_delivery_that_fails_to_parse_is_kept_with_its_error(client, floor):
    # Valid at the door, invalid for the parser: a status the generic source does not know.
    response = post_alert(client, floor.token, {"summary": "x", "status": "exploded"})
    assert response.status_code == 202
    process()
    event = InboundEvent.objects.get()
    assert event.status == "failed"
    assert "status" in event.error
    assert Alert.objects.count() == 0


def test_it_redacts_credentials_from_stored_headers(client, floor):
    client.post(
        f"/integrations/{floor.token}/",
        data='{"summary": "x"}',
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer s3cret",
    )
    event = InboundEvent.objects.get()
    assert event.headers["Authorization"] == "[redacted]"
    assert "s3cret" not in str(event.headers)
    assert floor.token not in str(event.headers)
