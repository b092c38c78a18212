"""Google Cloud Monitoring webhook bodies (schema 1.2 and 1.1), written here in the documented
shape."""

import copy
from datetime import UTC, datetime

import pytest

from alerts.sources import gcp
from alerts.sources.base import PayloadError
from tests.alerts.sources import parse_one

OPEN = {
    "version": "1.2",
    "incident": {
        "incident_id": "0.nq4example8z",
        "scoping_project_id": "lab-shop-prod",
        "scoping_project_number": 918273645501,
        "url": "https://console.cloud.google.com/monitoring/alerting/incidents/0.nq4example8z",
        "severity": "Error",
        "started_at": 1710000000,
        "ended_at": None,
        "state": "open",
        "summary": "Memory usage for cart-worker-7 is above the threshold of 0.850.",
        "resource_id": "",
        "resource_name": "lab-shop-prod cart-worker-7",
        "resource_display_name": "cart-worker-7",
        "resource_type_display_name": "VM Instance",
        "resource": {
            "type": "gce_instance",
            "labels": {"instance_id": "5566778899", "zone": "europe-west1-b"},
        },
        "metric": {
            "type": "agent.googleapis.com/memory/percent_used",
            "displayName": "Memory utilization",
            "labels": {"state": "used"},
        },
        "metadata": {"system_labels": {}, "user_labels": {"env": "prod"}},
        "policy_name": "cart-memory-high",
        "policy_user_labels": {"service": "cart", "team": "checkout"},
        "condition_name": "VM memory above 85%",
        # 1.2 sends the values as strings.
        "threshold_value": "0.85",
        "observed_value": "0.912",
        "documentation": {"content": "Restart the worker.", "mime_type": "text/markdown"},
    },
}


def closed() -> dict:
    body = copy.deepcopy(OPEN)
    body["incident"].update(state="closed", ended_at=1710000900)
    return body


def with_incident(**fields) -> dict:
    body = copy.deepcopy(OPEN)
    body["incident"].update(fields)
    return body


def test_it_reads_an_open_incident():
    alert = parse_one(gcp.parse, OPEN)

    assert alert.fingerprint == "0.nq4example8z"
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "cart-memory-high"
    assert alert.summary == "Memory usage for cart-worker-7 is above the threshold of 0.850."
    assert alert.description == "Restart the worker."
    assert alert.source == "cart-worker-7"
    assert alert.service == "cart"
    assert alert.links == (OPEN["incident"]["url"],)
    assert alert.started_at == datetime(2024, 3, 9, 16, 0, 0, tzinfo=UTC)
    assert alert.ended_at is None
    assert alert.labels == {
        "env": "prod",
        "service": "cart",
        "team": "checkout",
        "resource.instance_id": "5566778899",
        "resource.zone": "europe-west1-b",
        "resource_type": "gce_instance",
        "metric_type": "agent.googleapis.com/memory/percent_used",
        "version": "1.2",
        "condition_name": "VM memory above 85%",
        "resource_type_display_name": "VM Instance",
        "scoping_project_id": "lab-shop-prod",
        "observed_value": "0.912",
        "threshold_value": "0.85",
    }


def test_it_resolves_a_closed_incident_under_the_same_fingerprint():
    alert = parse_one(gcp.parse, closed())

    assert alert.status == "resolved"
    assert alert.fingerprint == parse_one(gcp.parse, OPEN).fingerprint
    assert alert.ended_at == datetime(2024, 3, 9, 16, 15, 0, tzinfo=UTC)


def test_it_reads_a_version_1_1_incident():
    body = {
        "version": "1.1",
        "incident": {
            "incident_id": "a1b2c3d4e5f6a7b8c9d0",
            "resource_id": "i-77aa",
            "resource_name": "batch-runner-3",
            "state": "OPEN",
            "started_at": 1600000000,
            "ended_at": None,
            "policy_name": "Batch runner health",
            "condition_name": "Disk usage",
            "url": "https://app.google.stackdriver.com/incidents/a1b2c3d4e5f6a7b8c9d0",
            "summary": "Disk usage for batch-runner-3 is above 95%",
        },
    }

    alert = parse_one(gcp.parse, body)

    assert alert.status == "firing"
    assert alert.source == "batch-runner-3"
    assert alert.severity is None
    assert alert.service == ""
    assert alert.description == ""


def test_it_takes_the_host_label_of_an_uptime_check():
    body = with_incident(
        resource={"type": "uptime_url", "labels": {"host": "shop.lab.example"}},
        resource_display_name=None,
    )

    assert parse_one(gcp.parse, body).source == "shop.lab.example"


def test_it_falls_back_to_the_condition_name_and_user_label_service():
    body = with_incident(policy_name="", summary="", policy_user_labels=None)
    body["incident"]["metadata"]["user_labels"] = {"service": "cart-batch"}

    alert = parse_one(gcp.parse, body)

    assert alert.name == alert.summary == "VM memory above 85%"
    assert alert.service == "cart-batch"


@pytest.mark.parametrize(
    ("raw", "severity"),
    [("Critical", "critical"), ("Error", "high"), ("Warning", "warning")],
)
def test_it_maps_severities(raw, severity):
    assert parse_one(gcp.parse, with_incident(severity=raw)).severity == severity


def test_it_treats_no_severity_as_none_without_a_label():
    alert = parse_one(gcp.parse, with_incident(severity="No severity"))

    assert alert.severity is None
    assert "source_severity" not in alert.labels


def test_it_reads_a_severity_user_label_when_the_policy_has_no_severity():
    body = with_incident(severity=None, policy_user_labels={"severity": "critical"})

    assert parse_one(gcp.parse, body).severity == "critical"


def test_it_keeps_an_unlisted_severity_as_a_label():
    alert = parse_one(gcp.parse, with_incident(severity="Notice"))

    assert alert.severity is None
    assert alert.labels["source_severity"] == "Notice"


def test_it_applies_the_integration_severity_map():
    config = {"severity_map": {"error": "critical", "notice": "info"}}

    assert parse_one(gcp.parse, OPEN, config=config).severity == "critical"
    assert parse_one(gcp.parse, with_incident(severity="Notice"), config=config).severity == "info"


def test_it_refuses_a_body_without_incident():
    with pytest.raises(PayloadError, match="'incident' must be an object") as error:
        gcp.parse({"version": "1.2"}, {})
    assert error.value.field == "incident"


def test_it_refuses_an_incident_without_id():
    with pytest.raises(PayloadError, match=r"'incident\.incident_id' is required"):
        gcp.parse(with_incident(incident_id=None), {})


def test_it_refuses_an_unknown_state():
    with pytest.raises(PayloadError, match=r"'incident\.state' must be open or closed"):
        gcp.parse(with_incident(state="acknowledged"), {})


def test_it_refuses_user_labels_that_are_not_an_object():
    with pytest.raises(PayloadError, match=r"'incident\.policy_user_labels' must be an object"):
        gcp.parse(with_incident(policy_user_labels=["service:cart"]), {})
