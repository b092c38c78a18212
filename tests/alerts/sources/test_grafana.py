"""Grafana webhook bodies: unified alerting and legacy alerting, written here in their
documented shapes."""

import copy

import pytest

from alerts.sources import grafana
from alerts.sources.base import IgnoredPayload, PayloadError, stable_hash

LATENCY = {
    "status": "firing",
    "labels": {
        "alertname": "CheckoutLatency",
        "grafana_folder": "Shop",
        "severity": "major",
        "service": "checkout",
        "instance": "web-3.shop.example:8080",
    },
    "annotations": {
        "summary": "p95 checkout latency is 2.4s",
        "description": "p95 above 2s for 10 minutes",
    },
    "startsAt": "2024-07-11T10:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "https://grafana.shop.example/alerting/grafana/aa11bb22/view",
    "fingerprint": "5e5e0a0a1b1b2c2c",
    "silenceURL": "https://grafana.shop.example/alerting/silence/new?matcher=x",
    "dashboardURL": "https://grafana.shop.example/d/checkout",
    "panelURL": "",
    "values": {"A": 2.4, "B": 1},
}


def unified(*alerts, **fields) -> dict:
    body = {
        "receiver": "IOC",
        "status": "firing",
        "orgId": 3,
        "alerts": [copy.deepcopy(alert) for alert in alerts],
        "groupLabels": {"alertname": "CheckoutLatency"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "https://grafana.shop.example/",
        "version": "1",
        "groupKey": '{}:{alertname="CheckoutLatency"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] CheckoutLatency",
        "state": "alerting",
        "message": "**Firing** ...",
    }
    body.update(fields)
    return body


LEGACY = {
    "dashboardId": 12,
    "evalMatches": [
        {"value": 91.5, "metric": "cpu.busy", "tags": {"host": "batch-01"}},
        {"value": 88, "metric": "cpu.busy", "tags": None},
    ],
    "imageUrl": "https://grafana.plant.example/render/cpu.png",
    "message": "CPU busy above 85%",
    "orgId": 2,
    "panelId": 4,
    "ruleId": 31,
    "ruleName": "Batch CPU busy",
    "ruleUrl": "https://grafana.plant.example/d/batch?panelId=4",
    "state": "alerting",
    "tags": {"severity": "minor", "service": "batch-jobs", "host": "batch-01"},
    "title": "[Alerting] Batch CPU busy",
}


def test_it_parses_a_unified_alert_like_alertmanager():
    [alert] = grafana.parse(unified(LATENCY), {})
    assert alert.fingerprint == "5e5e0a0a1b1b2c2c"
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "CheckoutLatency"
    assert alert.summary == "p95 checkout latency is 2.4s"
    assert alert.description == "p95 above 2s for 10 minutes\n\nValues: A=2.4, B=1"
    assert alert.source == "web-3.shop.example"
    assert alert.service == "checkout"
    assert alert.labels == LATENCY["labels"]
    # The empty panelURL is left out; the silence link is an action, not a reference.
    assert alert.links == (
        "https://grafana.shop.example/alerting/grafana/aa11bb22/view",
        "https://grafana.shop.example/d/checkout",
    )


def test_it_prefers_grafanas_value_string_when_present():
    older = {key: value for key, value in LATENCY.items() if key != "values"}
    older["valueString"] = "[ var='A' labels={} value=2.4 ]"
    [alert] = grafana.parse(unified(older), {})
    assert (
        alert.description
        == "p95 above 2s for 10 minutes\n\nValues: [ var='A' labels={} value=2.4 ]"
    )


def test_it_resolves_a_unified_alert_under_the_same_fingerprint():
    resolved = {**LATENCY, "status": "resolved", "endsAt": "2024-07-11T10:20:00Z"}
    [firing] = grafana.parse(unified(LATENCY), {})
    [alert] = grafana.parse(unified(resolved, status="resolved", state="ok"), {})
    assert alert.status == "resolved"
    assert alert.fingerprint == firing.fingerprint
    assert alert.ended_at.isoformat() == "2024-07-11T10:20:00+00:00"


def test_it_returns_each_unified_alert_with_its_own_status():
    other = {**LATENCY, "status": "resolved", "fingerprint": "9999aaaa9999aaaa"}
    alerts = grafana.parse(unified(LATENCY, other), {})
    assert [(alert.fingerprint, alert.status) for alert in alerts] == [
        ("5e5e0a0a1b1b2c2c", "firing"),
        ("9999aaaa9999aaaa", "resolved"),
    ]


def test_it_keeps_an_unlisted_unified_severity_as_a_label():
    [alert] = grafana.parse(
        unified({**LATENCY, "labels": {"alertname": "X", "severity": "sev2"}}), {}
    )
    assert alert.severity is None
    assert alert.labels["source_severity"] == "sev2"


def test_it_parses_a_legacy_alert():
    [alert] = grafana.parse(LEGACY, {})
    assert alert.fingerprint == stable_hash("2", "12", "4", "31", "Batch CPU busy")
    assert alert.status == "firing"
    assert alert.severity == "warning"
    assert alert.name == "Batch CPU busy"
    assert alert.summary == "Batch CPU busy"
    assert alert.description == "CPU busy above 85%\n\ncpu.busy = 91.5\ncpu.busy = 88"
    assert alert.source == "batch-01"
    assert alert.service == "batch-jobs"
    assert alert.labels == {
        "severity": "minor",
        "service": "batch-jobs",
        "host": "batch-01",
        "grafana_state": "alerting",
        "grafana_rule_id": "31",
    }
    assert alert.links == (
        "https://grafana.plant.example/d/batch?panelId=4",
        "https://grafana.plant.example/render/cpu.png",
    )


@pytest.mark.parametrize(("state", "status"), [("no_data", "firing"), ("ok", "resolved")])
def test_it_maps_legacy_states_under_one_fingerprint(state, status):
    [alert] = grafana.parse({**LEGACY, "state": state, "evalMatches": []}, {})
    assert alert.status == status
    assert alert.fingerprint == grafana.parse(LEGACY, {})[0].fingerprint
    assert alert.description == "CPU busy above 85%"


@pytest.mark.parametrize("state", ["paused", "pending"])
def test_it_ignores_legacy_states_that_carry_no_alert(state):
    with pytest.raises(IgnoredPayload, match=f"state '{state}'"):
        grafana.parse({**LEGACY, "state": state}, {})


def test_it_fingerprints_a_legacy_alert_without_dashboard_ids():
    body = {key: value for key, value in LEGACY.items() if key not in ("orgId", "dashboardId")}
    body.pop("panelId")
    [alert] = grafana.parse(body, {})
    assert alert.fingerprint == stable_hash("", "", "", "31", "Batch CPU busy")


def test_it_applies_the_integrations_severity_map_to_legacy_tags():
    config = {"severity_map": {"minor": "info"}}
    [alert] = grafana.parse(LEGACY, {}, config=config)
    assert alert.severity == "info"


def test_it_has_no_severity_or_service_without_tags():
    [alert] = grafana.parse({**LEGACY, "tags": None}, {})
    assert (alert.severity, alert.service, alert.source) == (None, "", "")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("alerting", "the body must be a JSON object"),
        ({"title": "hello"}, "not a Grafana webhook body"),
        (unified(alerts={}), "'alerts' must be a list of alerts"),
        ({**LEGACY, "state": "exploded"}, "'state' must be alerting, no_data, ok"),
        ({**LEGACY, "state": {"value": "alerting"}}, "'state' must be a string"),
        ({**LEGACY, "ruleId": None, "ruleName": ""}, "'ruleId' or 'ruleName' is required"),
        ({**LEGACY, "evalMatches": {"cpu": 1}}, "'evalMatches' must be a list"),
        ({**LEGACY, "evalMatches": [3]}, "'evalMatches[0]' must be an object"),
        ({**LEGACY, "tags": ["service:batch"]}, "'tags' must be an object of strings"),
    ],
)
def test_it_refuses_malformed_bodies_with_a_clear_message(body, message):
    with pytest.raises(PayloadError) as raised:
        grafana.parse(body, {})
    assert str(raised.value).startswith(message)
