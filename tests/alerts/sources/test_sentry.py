"""Sentry integration-platform webhooks: event alerts, issues, metric alerts."""

from datetime import UTC, datetime

import pytest

from alerts.sources import IgnoredPayload, PayloadError
from alerts.sources.sentry import parse
from tests.alerts.sources import parse_one

EVENT_ALERT = {"Sentry-Hook-Resource": "event_alert"}
ISSUE = {"Sentry-Hook-Resource": "issue"}
METRIC_ALERT = {"Sentry-Hook-Resource": "metric_alert"}


def event_alert(**event_changes) -> dict:
    event = {
        "event_id": "9f0e7d6c5b4a49382716a5b4c3d2e1f0",
        "issue_id": "4051234567",
        "issue_url": "https://sentry.io/api/0/issues/4051234567/",
        "level": "fatal",
        "title": "OperationalError: could not connect to server",
        "culprit": "checkout.payments in charge_card",
        "datetime": "2024-03-02T08:15:30.250000Z",
        "url": "https://sentry.io/api/0/projects/acme/storefront/events/9f0e7d6c5b4a4938/",
        "web_url": "https://sentry.io/organizations/acme/issues/4051234567/events/9f0e7d6c5b4a4938/",
        "tags": [
            ["environment", "production"],
            ["server_name", "web-3.acme.internal"],
            ["service", "checkout-api"],
            ["user", "email:jane@example.org"],
        ],
        "exception": {"values": [{"type": "OperationalError", "stacktrace": {"frames": []}}]},
    }
    event.update(event_changes)
    return {
        "action": "triggered",
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "event": event,
            "triggered_rule": "Checkout errors page on-call",
            "issue_alert": {"title": "Checkout errors page on-call", "settings": []},
        },
        "installation": {"uuid": "0c9b8a7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"},
    }


def issue(action: str, **issue_changes) -> dict:
    body = {
        "id": "4051234567",
        "shortId": "STOREFRONT-2K",
        "title": "OperationalError: could not connect to server",
        "culprit": "checkout.payments in charge_card",
        "level": "fatal",
        "count": "17",
        "status": "resolved" if action == "resolved" else "unresolved",
        "firstSeen": "2024-03-02T08:15:30.250000Z",
        "project": {"id": "31", "name": "Storefront", "slug": "storefront"},
        "web_url": "https://sentry.io/organizations/acme/issues/4051234567/",
    }
    body.update(issue_changes)
    return {"action": action, "data": {"issue": body}, "actor": {"type": "user", "id": 5}}


def metric_alert(action: str) -> dict:
    return {
        "action": action,
        "data": {
            "description_title": f"{action.title()}: Checkout p95 latency",
            "description_text": "p95(transaction.duration) above 1200ms in the last 5 minutes",
            "metric_alert": {
                "id": "612",
                "identifier": "44",
                "title": "Checkout p95 latency",
                "date_started": "2024-03-02T09:00:00.000000Z",
                "date_closed": "2024-03-02T09:20:00.000000Z" if action == "resolved" else None,
                "projects": ["storefront"],
                "alert_rule": {
                    "id": "77",
                    "name": "Checkout p95 latency",
                    "aggregate": "p95(transaction.duration)",
                    "query": "transaction:/checkout",
                    "projects": ["storefront"],
                },
            },
            "web_url": "https://sentry.io/organizations/acme/alerts/rules/details/77/",
        },
    }


def test_it_fires_an_issue_alert():
    alert = parse_one(parse, event_alert(), EVENT_ALERT)
    assert alert.fingerprint == "issue:4051234567"
    assert alert.status == "firing"
    assert alert.severity == "critical"
    assert alert.name == "Checkout errors page on-call"
    assert alert.summary == "OperationalError: could not connect to server"
    assert alert.description == "checkout.payments in charge_card"
    assert alert.source == "web-3.acme.internal"
    assert alert.service == "checkout-api"
    assert alert.links == (
        "https://sentry.io/organizations/acme/issues/4051234567/events/9f0e7d6c5b4a4938/",
    )
    assert alert.started_at == datetime(2024, 3, 2, 8, 15, 30, 250000, tzinfo=UTC)
    assert alert.labels == {
        "environment": "production",
        "server_name": "web-3.acme.internal",
        "service": "checkout-api",
        "project": "storefront",
        "issue_id": "4051234567",
        "rule": "Checkout errors page on-call",
    }


def test_it_keeps_the_user_tag_out_of_the_labels():
    assert "user" not in parse_one(parse, event_alert(), EVENT_ALERT).labels


def test_it_resolves_the_issue_alert_when_the_issue_is_resolved():
    fired = parse_one(parse, event_alert(), EVENT_ALERT)
    resolved = parse_one(parse, issue("resolved"), ISSUE)
    assert resolved.status == "resolved"
    assert resolved.fingerprint == fired.fingerprint


def test_it_reads_the_header_whatever_its_case():
    assert (
        parse_one(parse, issue("resolved"), {"sentry-hook-resource": "issue"}).status == "resolved"
    )
    assert (
        parse_one(parse, issue("resolved"), {"SENTRY-HOOK-RESOURCE": "Issue"}).status == "resolved"
    )


def test_it_reads_an_issue_webhook_with_its_string_count():
    alert = parse_one(parse, issue("created"), ISSUE)
    assert alert.status == "firing"
    assert alert.severity == "critical"
    assert alert.service == "storefront"
    assert alert.name == "OperationalError: could not connect to server"
    assert alert.links == ("https://sentry.io/organizations/acme/issues/4051234567/",)
    assert alert.labels == {
        "project": "storefront",
        "issue_id": "4051234567",
        "short_id": "STOREFRONT-2K",
        "count": "17",
    }


def test_it_fires_again_when_an_issue_is_unresolved():
    assert parse_one(parse, issue("unresolved", substatus="regressed"), ISSUE).status == "firing"


@pytest.mark.parametrize("action", ["archived", "ignored", "assigned"])
def test_it_ignores_issue_actions_that_change_no_alert(action):
    with pytest.raises(IgnoredPayload, match=f"issue {action}"):
        parse(issue(action), ISSUE)


@pytest.mark.parametrize(("action", "severity"), [("critical", "critical"), ("warning", "warning")])
def test_it_fires_a_metric_alert_with_its_action_as_severity(action, severity):
    alert = parse_one(parse, metric_alert(action), METRIC_ALERT)
    assert alert.fingerprint == "metric_alert:612"
    assert alert.status == "firing"
    assert alert.severity == severity
    assert alert.name == "Checkout p95 latency"
    assert alert.summary == f"{action.title()}: Checkout p95 latency"
    assert alert.description == "p95(transaction.duration) above 1200ms in the last 5 minutes"
    assert alert.service == "storefront"
    assert alert.links == ("https://sentry.io/organizations/acme/alerts/rules/details/77/",)
    assert alert.started_at == datetime(2024, 3, 2, 9, 0, tzinfo=UTC)


def test_it_resolves_a_metric_alert_under_the_same_fingerprint():
    fired = parse_one(parse, metric_alert("critical"), METRIC_ALERT)
    resolved = parse_one(parse, metric_alert("resolved"), METRIC_ALERT)
    assert resolved.status == "resolved"
    assert resolved.fingerprint == fired.fingerprint
    assert resolved.ended_at == datetime(2024, 3, 2, 9, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("level", "severity"),
    [("fatal", "critical"), ("error", "high"), ("warning", "warning"), ("info", "info")],
)
def test_it_maps_event_levels(level, severity):
    alert = parse_one(parse, event_alert(level=level), EVENT_ALERT)
    assert alert.severity == severity
    assert "source_severity" not in alert.labels


def test_it_keeps_an_unlisted_level_as_source_severity():
    alert = parse_one(parse, event_alert(level="debug"), EVENT_ALERT)
    assert alert.severity is None
    assert alert.labels["source_severity"] == "debug"


def test_it_applies_the_integrations_severity_map():
    config = {"severity_map": {"error": "critical", "debug": "info"}}
    assert (
        parse_one(parse, event_alert(level="error"), EVENT_ALERT, config=config).severity
        == "critical"
    )
    assert (
        parse_one(parse, event_alert(level="debug"), EVENT_ALERT, config=config).severity == "info"
    )


def test_it_falls_back_to_the_project_slug_for_the_service():
    alert = parse_one(parse, event_alert(tags=[["environment", "staging"]]), EVENT_ALERT)
    assert alert.service == "storefront"
    assert alert.source == ""


def test_it_reads_tags_given_as_key_value_objects():
    tags = [{"key": "service", "value": "search"}, {"key": "release", "value": 42}]
    assert parse_one(parse, event_alert(tags=tags), EVENT_ALERT).labels["release"] == "42"
    assert parse_one(parse, event_alert(tags=tags), EVENT_ALERT).service == "search"


def test_it_takes_the_issue_id_from_the_issue_url_when_missing():
    alert = parse_one(parse, event_alert(issue_id=None), EVENT_ALERT)
    assert alert.fingerprint == "issue:4051234567"


@pytest.mark.parametrize("resource", ["installation", "comment", "error", "seer"])
def test_it_ignores_resources_that_carry_no_alert(resource):
    with pytest.raises(IgnoredPayload, match=resource):
        parse({"action": "created", "data": {}}, {"Sentry-Hook-Resource": resource})


def test_it_tells_the_resource_from_the_shape_when_the_header_is_lost():
    assert parse_one(parse, event_alert(), {}).fingerprint == "issue:4051234567"
    assert parse_one(parse, metric_alert("warning"), {}).fingerprint == "metric_alert:612"
    assert parse_one(parse, issue("resolved"), {}).status == "resolved"


@pytest.mark.parametrize(
    ("payload", "headers", "message"),
    [
        ({"action": "created", "data": {}}, {}, "Sentry-Hook-Resource header is missing"),
        ({"action": "triggered", "data": "event"}, EVENT_ALERT, "'data' must be an object"),
        ({"action": "triggered", "data": {}}, EVENT_ALERT, "'data.event' must be an object"),
        (event_alert(issue_id=None, issue_url=None), EVENT_ALERT, "'data.event.issue_id' is req"),
        (event_alert(tags="service=x"), EVENT_ALERT, "'data.event.tags' must be a list"),
        (issue("resolved", id=None), ISSUE, "'data.issue.id' is required"),
        ({"data": {"issue": {"id": "1"}}}, ISSUE, "'action' is required"),
        (metric_alert("exploded"), METRIC_ALERT, "must be critical, warning or resolved"),
    ],
)
def test_it_refuses_malformed_bodies_with_a_clear_message(payload, headers, message):
    with pytest.raises(PayloadError, match=message):
        parse(payload, headers)
