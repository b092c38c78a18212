"""New Relic: workflow webhooks (default payload template) and legacy alert channels."""

from datetime import UTC, datetime

import pytest

from alerts.sources import IgnoredPayload, PayloadError
from alerts.sources.newrelic import parse
from tests.alerts.sources import parse_one

ISSUE_ID = "5e1f0c9a-7b2d-4c3e-9f10-aa11bb22cc33"


def workflow(**changes) -> dict:
    """A body as New Relic's default workflow template renders it."""
    body = {
        "id": ISSUE_ID,
        "issueUrl": f"https://radar-api.service.newrelic.com/accounts/7654321/issues/{ISSUE_ID}",
        "title": "db-primary-02 query result is > 85.0 for 5 minutes on 'Disk nearly full'",
        "priority": "HIGH",
        "impactedEntities": ["db-primary-02"],
        "totalIncidents": 2,
        "state": "CREATED",
        "trigger": "INCIDENT_ADDED",
        "isCorrelated": True,
        "createdAt": 1717171717000,
        "updatedAt": 1717171717000,
        "sources": ["newrelic"],
        "alertPolicyNames": ["Storage"],
        "alertConditionNames": ["Disk nearly full"],
        "workflowName": "Storage on-call",
        "accumulations": {"tag.service": ["billing-db"], "tag.env": ["prod"]},
    }
    body.update(changes)
    return body


def legacy(**changes) -> dict:
    """A body as a legacy alert channel sends it."""
    body = {
        "account_id": 7654321,
        "account_name": "Acme Payments",
        "condition_id": 3141,
        "condition_name": "Error rate above 5%",
        "current_state": "open",
        "details": "Error percentage > 5.0% for at least 3 minutes on 'payments-api'",
        "event_type": "INCIDENT",
        "incident_acknowledge_url": "https://alerts.newrelic.com/accounts/7654321/incidents/88/ack",
        "incident_id": 88,
        "incident_url": "https://alerts.newrelic.com/accounts/7654321/incidents/88",
        "policy_name": "Payments golden signals",
        "runbook_url": "https://wiki.example.org/runbooks/payments-errors",
        "severity": "CRITICAL",
        "targets": [
            {
                "id": "991",
                "name": "payments-api",
                "labels": {"service": "payments", "team": "checkout"},
                "product": "APM",
                "type": "Application",
            }
        ],
        "timestamp": 1717000000000,
    }
    body.update(changes)
    return body


def test_it_reads_a_created_workflow_issue_as_firing():
    alert = parse_one(parse, workflow())
    assert alert.fingerprint == ISSUE_ID
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "Disk nearly full"
    assert alert.summary == (
        "db-primary-02 query result is > 85.0 for 5 minutes on 'Disk nearly full'"
    )
    assert alert.source == "db-primary-02"
    assert alert.service == "billing-db"
    assert alert.links == (
        f"https://radar-api.service.newrelic.com/accounts/7654321/issues/{ISSUE_ID}",
    )
    assert alert.started_at == datetime(2024, 5, 31, 16, 8, 37, tzinfo=UTC)
    assert alert.ended_at is None
    assert alert.labels == {
        "service": "billing-db",
        "env": "prod",
        "state": "CREATED",
        "trigger": "INCIDENT_ADDED",
        "policy": "Storage",
        "condition": "Disk nearly full",
        "workflow": "Storage on-call",
        "sources": "newrelic",
        "correlated": "true",
        "total_incidents": "2",
    }


def test_it_resolves_a_closed_issue_under_the_same_fingerprint():
    fired = parse_one(parse, workflow())
    closed = parse_one(
        parse, workflow(state="CLOSED", trigger="INCIDENT_CLOSED", updatedAt=1717172017000)
    )
    assert closed.status == "resolved"
    assert closed.fingerprint == fired.fingerprint
    assert closed.ended_at == datetime(2024, 5, 31, 16, 13, 37, tzinfo=UTC)


@pytest.mark.parametrize("trigger", ["ACKNOWLEDGED", "USER_ACTION", "user_action"])
def test_it_reads_an_activated_issue_acknowledged_by_a_user(trigger):
    alert = parse_one(parse, workflow(state="ACTIVATED", trigger=trigger))
    assert alert.status == "acknowledged"
    assert alert.fingerprint == ISSUE_ID


def test_it_keeps_an_activated_issue_firing_when_no_user_acted():
    assert parse_one(parse, workflow(state="ACTIVATED", trigger="STATE_CHANGE")).status == "firing"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("CRITICAL", "critical"), ("HIGH", "high"), ("MEDIUM", "warning"), ("LOW", "info")],
)
def test_it_maps_priorities(priority, severity):
    alert = parse_one(parse, workflow(priority=priority))
    assert alert.severity == severity
    assert "source_severity" not in alert.labels


def test_it_keeps_an_unlisted_priority_as_source_severity():
    alert = parse_one(parse, workflow(priority="URGENT"))
    assert alert.severity is None
    assert alert.labels["source_severity"] == "URGENT"


def test_it_applies_the_integrations_severity_map():
    config = {"severity_map": {"MEDIUM": "high", "urgent": "critical"}}
    assert parse_one(parse, workflow(priority="MEDIUM"), config=config).severity == "high"
    assert parse_one(parse, workflow(priority="URGENT"), config=config).severity == "critical"
    assert parse_one(parse, workflow(priority="LOW"), config=config).severity == "info"


@pytest.mark.parametrize(("value", "label"), [(False, "false"), ("false", "false"), (True, "true")])
def test_it_accepts_is_correlated_as_a_boolean_or_a_string(value, label):
    assert parse_one(parse, workflow(isCorrelated=value)).labels["correlated"] == label


def test_it_reads_issue_id_and_entities_data_from_a_richer_template():
    body = workflow(issueId="issue-77", entitiesData={"names": ["cache-01"], "types": ["HOST"]})
    del body["id"], body["impactedEntities"]
    alert = parse_one(parse, body)
    assert alert.fingerprint == "issue-77"
    assert alert.source == "cache-01"


def test_it_reads_a_nested_tag_object_in_accumulations():
    alert = parse_one(
        parse, workflow(accumulations={"tag": {"service": ["ledger", "ledger-replica"]}})
    )
    assert alert.service == "ledger"
    assert alert.labels["service"] == "ledger, ledger-replica"


def test_it_prefers_a_service_the_template_names_itself():
    assert parse_one(parse, workflow(service="storefront")).service == "storefront"


def test_it_has_no_service_without_a_service_tag():
    assert parse_one(parse, workflow(accumulations={"tag.env": ["prod"]})).service == ""


def test_it_reads_a_legacy_open_incident():
    alert = parse_one(parse, legacy())
    assert alert.fingerprint == "88"
    assert alert.status == "firing"
    assert alert.severity == "critical"
    assert alert.name == "Error rate above 5%"
    assert alert.summary == "Error percentage > 5.0% for at least 3 minutes on 'payments-api'"
    assert alert.source == "payments-api"
    assert alert.service == "payments"
    assert alert.links == (
        "https://alerts.newrelic.com/accounts/7654321/incidents/88",
        "https://wiki.example.org/runbooks/payments-errors",
    )
    assert alert.started_at == datetime(2024, 5, 29, 16, 26, 40, tzinfo=UTC)
    assert alert.labels == {
        "service": "payments",
        "team": "checkout",
        "policy": "Payments golden signals",
        "condition": "Error rate above 5%",
        "account": "Acme Payments",
        "product": "APM",
    }


@pytest.mark.parametrize(
    ("state", "status"), [("acknowledged", "acknowledged"), ("closed", "resolved")]
)
def test_it_follows_a_legacy_incident_through_ack_and_close(state, status):
    alert = parse_one(parse, legacy(current_state=state))
    assert alert.status == status
    assert alert.fingerprint == "88"


def test_it_maps_legacy_warning_and_info():
    assert parse_one(parse, legacy(severity="WARNING")).severity == "warning"
    assert parse_one(parse, legacy(severity="INFO")).severity == "info"


def test_it_ignores_a_deployment_notice():
    with pytest.raises(IgnoredPayload, match="deployment"):
        parse({"deployment": {"revision": "abc"}}, {})


@pytest.mark.parametrize(
    ("payload", "message", "field"),
    [
        ({"hello": "world"}, "not a New Relic alert", None),
        (workflow(state="SNOOZED"), "'state' must be CREATED, ACTIVATED or CLOSED", "state"),
        (workflow(id=None), "'issueId' is required", "issueId"),
        (workflow(accumulations=["tag.service"]), "'accumulations' must be an object", None),
        (workflow(alertConditionNames=[{"a": 1}]), "'alertConditionNames' must be a string", None),
        (legacy(current_state="snoozed"), "'current_state' must be open", "current_state"),
        (legacy(targets={"name": "x"}), "'targets' must be a list of objects", "targets"),
        (legacy(incident_id=None), "'incident_id' is required", "incident_id"),
    ],
)
def test_it_refuses_malformed_bodies_with_a_clear_message(payload, message, field):
    with pytest.raises(PayloadError, match=message) as caught:
        parse(payload, {})
    if field:
        assert caught.value.field == field


def test_it_refuses_a_body_that_is_not_an_object():
    with pytest.raises(PayloadError, match="JSON object"):
        parse(["state", "CREATED"], {})
