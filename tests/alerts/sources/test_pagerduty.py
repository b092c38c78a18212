"""PagerDuty Events API v2 events, written here in the documented shape."""

from datetime import UTC, datetime

import pytest

from alerts.sources import pagerduty
from alerts.sources.base import PayloadError, stable_hash

TRIGGER = {
    "routing_key": "R0UT1NGKEY0000000000000000000042",
    "event_action": "trigger",
    "dedup_key": "replica-lag/pg-east-2",
    "payload": {
        "summary": "Replica lag on pg-east-2 is 340s",
        "source": "pg-east-2.db.example",
        "severity": "error",
        "timestamp": "2024-03-09T22:15:07.250+0000",
        "component": "postgresql",
        "group": "orders-db",
        "class": "replication",
        "custom_details": {
            "service": "orders",
            "lag seconds": 340,
            "replica": "pg-east-2",
            "in recovery": True,
            "slots": {"east": "active"},
        },
    },
    "client": "Lab Monitor",
    "client_url": "https://monitor.lab.example/checks/88",
    "links": [{"href": "https://wiki.lab.example/replica-lag", "text": "Runbook"}],
    "images": [{"src": "https://monitor.lab.example/graphs/88.png", "alt": "lag"}],
}


def event(action: str, **fields) -> dict:
    body = {"routing_key": TRIGGER["routing_key"], "event_action": action}
    body.update(fields)
    return body


def test_it_parses_a_trigger():
    [alert] = pagerduty.parse(TRIGGER, {})
    assert alert.fingerprint == "replica-lag/pg-east-2"
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "replication"
    assert alert.summary == "Replica lag on pg-east-2 is 340s"
    assert alert.source == "pg-east-2.db.example"
    assert alert.service == "orders"
    assert alert.started_at == datetime(2024, 3, 9, 22, 15, 7, 250000, tzinfo=UTC)
    assert alert.description.splitlines() == [
        "service: orders",
        "lag seconds: 340",
        "replica: pg-east-2",
        "in recovery: true",
        'slots: {"east": "active"}',
    ]
    assert alert.links == (
        "https://wiki.lab.example/replica-lag",
        "https://monitor.lab.example/graphs/88.png",
        "https://monitor.lab.example/checks/88",
    )


def test_it_keeps_payload_fields_and_scalar_custom_details_as_labels_but_not_the_routing_key():
    [alert] = pagerduty.parse(TRIGGER, {})
    assert alert.labels == {
        "service": "orders",
        "lag seconds": "340",
        "replica": "pg-east-2",
        "in recovery": "true",
        "component": "postgresql",
        "group": "orders-db",
        "class": "replication",
        "client": "Lab Monitor",
    }
    assert TRIGGER["routing_key"] not in alert.labels.values()


@pytest.mark.parametrize(
    ("action", "status"), [("acknowledge", "acknowledged"), ("resolve", "resolved")]
)
def test_it_acknowledges_and_resolves_by_dedup_key(action, status):
    [alert] = pagerduty.parse(event(action, dedup_key="replica-lag/pg-east-2"), {})
    assert alert.status == status
    assert alert.fingerprint == pagerduty.parse(TRIGGER, {})[0].fingerprint
    assert alert.summary == "replica-lag/pg-east-2"
    assert (alert.severity, alert.labels) == (None, {})


def test_it_fingerprints_a_trigger_without_dedup_key_by_source_component_and_summary():
    body = {key: value for key, value in TRIGGER.items() if key != "dedup_key"}
    [alert] = pagerduty.parse(body, {})
    expected = stable_hash("pg-east-2.db.example", "postgresql", "Replica lag on pg-east-2 is 340s")
    assert alert.fingerprint == expected
    later = {**body, "payload": {**body["payload"], "timestamp": "2024-03-09T23:00:00+0000"}}
    assert pagerduty.parse(later, {})[0].fingerprint == expected


def test_it_hashes_a_dedup_key_longer_than_the_column():
    key = "k" * 300
    [alert] = pagerduty.parse(event("resolve", dedup_key=key), {})
    assert alert.fingerprint == stable_hash(key)


@pytest.mark.parametrize(
    ("raw", "severity"),
    [("critical", "critical"), ("error", "high"), ("warning", "warning"), ("info", "info")],
)
def test_it_maps_the_severity(raw, severity):
    body = {**TRIGGER, "payload": {**TRIGGER["payload"], "severity": raw}}
    assert pagerduty.parse(body, {})[0].severity == severity


def test_it_keeps_an_unlisted_severity_as_a_label():
    body = {**TRIGGER, "payload": {**TRIGGER["payload"], "severity": "disaster"}}
    [alert] = pagerduty.parse(body, {})
    assert alert.severity is None
    assert alert.labels["source_severity"] == "disaster"


def test_it_applies_the_integrations_severity_map():
    config = {"severity_map": {"error": "critical", "disaster": "critical"}}
    [alert] = pagerduty.parse(TRIGGER, {}, config=config)
    assert alert.severity == "critical"


def test_it_takes_the_name_from_the_summary_without_a_class_and_no_service_without_details():
    payload = {"summary": "Backup failed", "source": "nas-1", "severity": "warning"}
    [alert] = pagerduty.parse(event("trigger", payload=payload), {})
    assert (alert.name, alert.service, alert.description, alert.links) == (
        "Backup failed",
        "",
        "",
        (),
    )


def test_it_shows_custom_details_given_as_text_in_the_description():
    payload = {**TRIGGER["payload"], "custom_details": "disk /data is full"}
    [alert] = pagerduty.parse({**TRIGGER, "payload": payload}, {})
    assert alert.description == "disk /data is full"
    assert alert.service == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("trigger", "the body must be a JSON object"),
        ({"routing_key": "x"}, "'event_action' is required"),
        (
            event("escalate", dedup_key="a"),
            "'event_action' must be trigger, acknowledge or resolve",
        ),
        (event("trigger"), "a trigger needs a 'payload' object"),
        (event("trigger", payload=["summary"]), "a trigger needs a 'payload' object"),
        (event("trigger", payload={"source": "nas-1"}), "'payload.summary' is required"),
        (event("trigger", payload={"summary": {"text": "x"}}), "'payload.summary' must be a"),
        (event("acknowledge"), "'dedup_key' is required to acknowledge an alert"),
        (event("resolve", dedup_key=" "), "'dedup_key' is required to resolve an alert"),
        ({**TRIGGER, "links": {"href": "x"}}, "'links' must be a list of objects"),
        (
            {"service_key": "abc", "event_type": "trigger", "description": "old"},
            "this is an Events API v1 body",
        ),
    ],
)
def test_it_refuses_malformed_events_with_a_clear_message(body, message):
    with pytest.raises(PayloadError) as raised:
        pagerduty.parse(body, {})
    assert str(raised.value).startswith(message)


def test_it_validates_a_correct_event_without_errors():
    assert pagerduty.validate_event(TRIGGER) == []
    assert pagerduty.validate_event(event("resolve", dedup_key="a")) == []
    body = {key: value for key, value in TRIGGER.items() if key != "dedup_key"}
    assert pagerduty.validate_event(body) == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ([], ["Event object must be a JSON object"]),
        (
            {"event_action": "resolve"},
            ["'routing_key' is missing or blank", "'dedup_key' is missing"],
        ),
        (
            {"routing_key": " ", "event_action": "trigger", "payload": TRIGGER["payload"]},
            ["'routing_key' is missing or blank"],
        ),
        (event(""), ["'event_action' is missing or blank"]),
        (event("Trigger", payload=TRIGGER["payload"]), ["'event_action' is invalid"]),
        (event("trigger"), ["'payload' is missing or invalid"]),
        (
            event("trigger", payload={"summary": "x"}),
            ["'payload.source' is missing", "'payload.severity' is missing"],
        ),
        (
            event("trigger", payload={"summary": "", "source": "a", "severity": "major"}),
            ["'payload.summary' is missing", "'payload.severity' is invalid"],
        ),
        (event("acknowledge", dedup_key=""), ["'dedup_key' is missing"]),
        (
            event("acknowledge", dedup_key=7),
            ["'dedup_key' must be a string", "'dedup_key' is missing"],
        ),
        (
            event("resolve", dedup_key="d" * 256),
            ["'dedup_key' is too long (maximum 255 characters)"],
        ),
    ],
)
def test_it_reports_what_pagerduty_would_refuse(body, errors):
    assert pagerduty.validate_event(body) == errors
