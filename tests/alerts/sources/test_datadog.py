"""Datadog webhook bodies: IOC's recommended template, Datadog's default payload and a custom
template with renamed keys. Every value is a string, as Datadog renders them."""

from datetime import UTC, datetime

import pytest

from alerts.sources import datadog
from alerts.sources.base import PayloadError, stable_hash
from tests.alerts.sources import parse_one

# IOC's recommended template, rendered.
TRIGGERED = {
    "id": "7712093348811203344",
    "alert_id": "48120077",
    "alert_cycle_key": "7712093348811203344",
    "aggreg_key": "c81e728d9d4c2f636f067f89cc14862c",
    "title": "[P2] [Triggered on {host:api-eu-4,env:prod}] API latency above 800ms",
    "alert_title": "API latency above 800ms",
    "body": "%%%\nLatency is high on **api-eu-4**.\n\n[[Monitor Status](https://app.datadoghq.eu/monitors/48120077)]\n%%%",
    "alert_transition": "Triggered",
    "alert_type": "error",
    "alert_priority": "P2",
    "alert_status": "trace.http.request.duration over host:api-eu-4 was > 0.8 on average",
    "alert_metric": "trace.http.request.duration",
    "alert_scope": "host:api-eu-4,env:prod",
    "hostname": "api-eu-4",
    "tags": "env:prod, service:checkout-api, team:payments, host:api-eu-4",
    "date": "1717171717000",
    "last_updated": "1717171717000",
    "event_type": "query_alert_monitor",
    "org": {"id": "904411", "name": "Lab Org"},
    "link": "https://app.datadoghq.eu/event/event?id=7712093348811203344",
}

RECOVERED = {
    **TRIGGERED,
    "id": "7712093348811209999",
    "title": "[P2] [Recovered on {host:api-eu-4,env:prod}] API latency above 800ms",
    "alert_transition": "Recovered",
    "alert_type": "success",
    "date": "1717172017000",
}

# Datadog's default payload: no alert id, no transition key; the monitor id is in the body's
# links and the transition and scope in the title.
DEFAULT_TRIGGERED = {
    "body": "%%%\nQueue backlog growing\n\n[[Monitor Status](https://app.datadoghq.com/monitors#661020?group=queue%3Aemails)]\n%%%",
    "last_updated": "1717000000000",
    "event_type": "metric_alert_monitor",
    "title": "[Triggered on {queue:emails}] Mail queue backlog",
    "date": "1717000000000",
    "org": {"id": "1203", "name": "Lab"},
    "id": "5550001",
}


def test_it_reads_the_recommended_template():
    alert = parse_one(datadog.parse, TRIGGERED)

    assert alert.fingerprint == stable_hash("48120077", "c81e728d9d4c2f636f067f89cc14862c")
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "API latency above 800ms"
    assert alert.summary == "trace.http.request.duration over host:api-eu-4 was > 0.8 on average"
    assert alert.description == (
        "Latency is high on **api-eu-4**.\n\n"
        "[[Monitor Status](https://app.datadoghq.eu/monitors/48120077)]"
    )
    assert alert.source == "api-eu-4"
    assert alert.service == "checkout-api"
    assert alert.links == ("https://app.datadoghq.eu/event/event?id=7712093348811203344",)
    # Dates are epoch milliseconds, as strings.
    assert alert.started_at == datetime(2024, 5, 31, 16, 8, 37, tzinfo=UTC)
    assert alert.ended_at is None
    assert alert.labels == {
        "env": "prod",
        "service": "checkout-api",
        "team": "payments",
        "host": "api-eu-4",
        "alert_type": "error",
        "alert_metric": "trace.http.request.duration",
        "alert_scope": "host:api-eu-4,env:prod",
        "alert_cycle_key": "7712093348811203344",
        "event_type": "query_alert_monitor",
        "event_id": "7712093348811203344",
        "hostname": "api-eu-4",
        "org_id": "904411",
        "alert_id": "48120077",
        "alert_transition": "Triggered",
        "alert_priority": "P2",
    }


def test_it_resolves_the_recovery_under_the_same_fingerprint():
    fired, recovered = parse_one(datadog.parse, TRIGGERED), parse_one(datadog.parse, RECOVERED)

    assert recovered.status == "resolved"
    assert recovered.fingerprint == fired.fingerprint
    assert recovered.ended_at == datetime(2024, 5, 31, 16, 13, 37, tzinfo=UTC)
    assert recovered.started_at is None


@pytest.mark.parametrize(
    ("transition", "status"),
    [
        ("Triggered", "firing"),
        ("Re-Triggered", "firing"),
        ("Warn", "firing"),
        ("No Data", "firing"),
        ("Recovered", "resolved"),
    ],
)
def test_it_maps_transitions(transition, status):
    assert parse_one(datadog.parse, {**TRIGGERED, "alert_transition": transition}).status == status


def test_it_reads_the_default_payload_from_the_title_and_body_links():
    alert = parse_one(datadog.parse, DEFAULT_TRIGGERED)
    recovered = parse_one(
        datadog.parse,
        {**DEFAULT_TRIGGERED, "title": "[Recovered on {queue:emails}] Mail queue backlog"},
    )

    assert alert.status == "firing"
    assert recovered.status == "resolved"
    assert alert.fingerprint == recovered.fingerprint == stable_hash("661020", "queue:emails")
    assert alert.name == alert.summary == "Mail queue backlog"
    assert alert.labels["alert_id"] == "661020"
    assert alert.labels["org_id"] == "1203"
    assert alert.severity is None


def test_it_reads_renamed_keys_of_a_custom_template():
    body = {
        "title": "[Triggered] Checkout errors",
        "transition": "Recovered",
        "aggregate": "aa11bb22",
        "monitor_id": "9001",
        "priority": "P1",
        "secret": "not-ours",
    }

    alert = parse_one(datadog.parse, body)

    assert alert.status == "resolved"  # the explicit transition wins over the title
    assert alert.fingerprint == stable_hash("9001", "aa11bb22")
    assert alert.severity == "critical"
    assert "secret" not in alert.labels


def test_it_keeps_a_users_own_brackets_in_the_name():
    alert = parse_one(
        datadog.parse, {**DEFAULT_TRIGGERED, "title": "[Triggered] [staging] Mail queue backlog"}
    )

    assert alert.name == "[staging] Mail queue backlog"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("P1", "critical"), ("P2", "high"), ("P3", "warning"), ("P4", "info"), ("P5", "info")],
)
def test_it_maps_priorities(priority, severity):
    assert parse_one(datadog.parse, {**TRIGGERED, "alert_priority": priority}).severity == severity


@pytest.mark.parametrize(
    ("alert_type", "severity"),
    [("error", "high"), ("warning", "warning"), ("info", "info"), ("success", "info")],
)
def test_it_maps_the_alert_type_without_a_priority(alert_type, severity):
    title = "[Triggered on {host:api-eu-4,env:prod}] API latency above 800ms"
    body = {**TRIGGERED, "title": title, "alert_priority": "", "alert_type": alert_type}

    assert parse_one(datadog.parse, body).severity == severity


def test_it_reads_the_priority_from_the_title():
    body = {**TRIGGERED, "alert_priority": "$ALERT_PRIORITY", "alert_type": ""}

    alert = parse_one(datadog.parse, body)

    assert alert.severity == "high"
    assert alert.labels["alert_priority"] == "P2"


def test_it_keeps_an_unlisted_severity_as_a_label():
    body = {**DEFAULT_TRIGGERED, "alert_type": "emergency"}

    alert = parse_one(datadog.parse, body)

    assert alert.severity is None
    assert alert.labels["source_severity"] == "emergency"


def test_it_applies_the_integration_severity_map():
    config = {"severity_map": {"P2": "critical", "Error": "warning"}}

    assert parse_one(datadog.parse, TRIGGERED, config=config).severity == "critical"
    no_priority = {**TRIGGERED, "alert_priority": "", "title": "[Triggered] API latency"}
    assert parse_one(datadog.parse, no_priority, config=config).severity == "warning"


def test_it_reads_form_fields():
    form = {
        "alert_id": "48120077",
        "title": "[Triggered on {host:api-eu-4}] API latency above 800ms",
        "alert_type": "warning",
        "tags": "service:checkout-api",
        "date": "1717171717000",
    }

    alert = parse_one(datadog.parse, form)

    assert alert.fingerprint == stable_hash("48120077", "host:api-eu-4")
    assert alert.severity == "warning"
    assert alert.service == "checkout-api"
    assert alert.source == "api-eu-4"


def test_it_joins_the_values_of_a_repeated_tag():
    body = {**DEFAULT_TRIGGERED, "event_tags": "sg:sg-01,sg:sg-02,monitor,sg:sg-01"}

    assert parse_one(datadog.parse, body).labels["sg"] == "sg-01,sg-02"


def test_it_refuses_a_body_without_title_or_alert_id():
    with pytest.raises(PayloadError, match="neither a title nor an alert id") as error:
        datadog.parse({"body": "something happened", "date": "1717000000000"}, {})
    assert error.value.field == "title"


def test_it_refuses_an_object_where_a_string_belongs():
    with pytest.raises(PayloadError, match="'title' must be a string"):
        datadog.parse({**TRIGGERED, "title": ["API latency"]}, {})


def test_it_refuses_a_body_that_is_not_an_object():
    with pytest.raises(PayloadError, match="JSON object"):
        datadog.parse("[Triggered] API latency", {})
