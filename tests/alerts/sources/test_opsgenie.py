"""Opsgenie Alert API v2 bodies (create, close, acknowledge), written here in the documented
shape."""

import pytest

from alerts.sources import opsgenie
from alerts.sources.base import PayloadError, stable_hash

CREATE = {
    "message": "Payment gateway timeouts above 5%",
    "alias": "payments/gateway-timeouts",
    "description": "Timeouts from the card processor since 02:10 UTC.",
    "responders": [
        {"name": "Payments", "type": "team"},
        {"username": "ana@example.org", "type": "user"},
    ],
    "visibleTo": [{"name": "NOC", "type": "team"}],
    "actions": ["Fail over"],
    "tags": ["prod", "service:payments-api", "region=eu"],
    "details": {"region": "eu-central", "processor": "acme-cards"},
    "entity": "pay-gw-3.prod.example",
    "source": "checkmate",
    "priority": "P2",
    "user": "checkmate-bot",
    "note": "Opened by the synthetic check",
}


def test_it_parses_a_create_alert_body():
    [alert] = opsgenie.parse(CREATE, {})
    assert alert.fingerprint == "payments/gateway-timeouts"
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.summary == "Payment gateway timeouts above 5%"
    assert alert.name == "Payment gateway timeouts above 5%"
    assert alert.description == "Timeouts from the card processor since 02:10 UTC."
    assert alert.source == "pay-gw-3.prod.example"
    assert alert.service == "payments-api"
    assert alert.labels == {
        "region": "eu-central",
        "processor": "acme-cards",
        "opsgenie_user": "checkmate-bot",
        "opsgenie_source": "checkmate",
        "opsgenie_note": "Opened by the synthetic check",
        "tags": "prod, service:payments-api, region=eu",
        "priority": "P2",
    }


def test_it_parses_a_body_with_only_a_message():
    [alert] = opsgenie.parse({"message": "Nightly export did not run"}, {})
    assert alert.fingerprint == stable_hash("Nightly export did not run", "", "")
    assert alert.severity == "warning"  # Opsgenie's own default priority is P3
    assert (alert.source, alert.service, alert.description) == ("", "", "")
    assert alert.labels == {"priority": "P3"}


def test_it_fingerprints_without_alias_by_message_entity_and_source():
    body = {key: value for key, value in CREATE.items() if key != "alias"}
    [alert] = opsgenie.parse(body, {})
    assert alert.fingerprint == stable_hash(
        "Payment gateway timeouts above 5%", "pay-gw-3.prod.example", "checkmate"
    )
    repeat = {**body, "description": "Still timing out", "priority": "P1"}
    assert opsgenie.parse(repeat, {})[0].fingerprint == alert.fingerprint


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("P1", "critical"),
        ("P2", "high"),
        ("P3", "warning"),
        ("P4", "info"),
        ("P5", "info"),
        ("p1", "critical"),
    ],
)
def test_it_maps_the_priority(priority, severity):
    [alert] = opsgenie.parse({**CREATE, "priority": priority}, {})
    assert alert.severity == severity
    assert "source_severity" not in alert.labels


def test_it_keeps_an_unlisted_priority_as_a_label():
    [alert] = opsgenie.parse({**CREATE, "priority": "urgent"}, {})
    assert alert.severity is None
    assert alert.labels["source_severity"] == "urgent"


def test_it_applies_the_integrations_severity_map():
    config = {"severity_map": {"P3": "info", "urgent": "critical"}}
    assert opsgenie.parse({"message": "m"}, {}, config=config)[0].severity == "info"
    urgent = {**CREATE, "priority": "urgent"}
    assert opsgenie.parse(urgent, {}, config=config)[0].severity == "critical"


def test_it_takes_the_service_from_details_before_tags():
    body = {**CREATE, "details": {"service": "card-vault"}}
    assert opsgenie.parse(body, {})[0].service == "card-vault"


@pytest.mark.parametrize(
    ("tags", "service"),
    [(["Service=ledger"], "ledger"), (["service: ledger "], "ledger"), (["services:x", "db"], "")],
)
def test_it_takes_the_service_from_a_service_tag(tags, service):
    body = {**CREATE, "details": {}, "tags": tags}
    assert opsgenie.parse(body, {})[0].service == service


def test_it_closes_the_alert_with_the_alias():
    [created] = opsgenie.parse(CREATE, {})
    [closed] = opsgenie.parse_close(
        "payments/gateway-timeouts", {"user": "ana", "source": "runbook", "note": "failed over"}
    )
    assert closed.status == "resolved"
    assert closed.fingerprint == created.fingerprint
    assert closed.summary == "payments/gateway-timeouts"
    assert closed.labels == {
        "opsgenie_user": "ana",
        "opsgenie_source": "runbook",
        "opsgenie_note": "failed over",
    }


@pytest.mark.parametrize("body", [{}, None])
def test_it_acknowledges_the_alert_with_the_alias_and_an_empty_body(body):
    [acknowledged] = opsgenie.parse_acknowledge("payments/gateway-timeouts", body)
    assert acknowledged.status == "acknowledged"
    assert acknowledged.fingerprint == "payments/gateway-timeouts"
    assert acknowledged.labels == {}


def test_it_hashes_an_alias_longer_than_the_column_the_same_way_everywhere():
    alias = "a" * 400
    [created] = opsgenie.parse({"message": "m", "alias": alias}, {})
    [closed] = opsgenie.parse_close(alias, {})
    assert created.fingerprint == closed.fingerprint == stable_hash(alias)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("an alert", "the body must be a JSON object"),
        ({"alias": "x"}, "'message' is required"),
        ({"message": "  "}, "'message' must not be empty"),
        ({"message": "m", "tags": "prod,db"}, "'tags' must be a list of strings"),
        ({"message": "m", "tags": [{"name": "prod"}]}, "'tags[0]' must be a string"),
        ({"message": "m", "details": ["a=b"]}, "'details' must be an object of strings"),
        ({"message": "m", "alias": {"id": 1}}, "'alias' must be a string"),
    ],
)
def test_it_refuses_malformed_bodies_with_a_clear_message(body, message):
    with pytest.raises(PayloadError) as raised:
        opsgenie.parse(body, {})
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("alias", "body", "message"),
    [
        ("", {}, "'alias' must not be empty"),
        (None, {}, "'alias' is required"),
        ("payments/gateway-timeouts", ["note"], "the body must be a JSON object"),
        ("payments/gateway-timeouts", {"note": {"text": "x"}}, "'note' must be a string"),
    ],
)
def test_it_refuses_a_malformed_close(alias, body, message):
    with pytest.raises(PayloadError) as raised:
        opsgenie.parse_close(alias, body)
    assert str(raised.value).startswith(message)
