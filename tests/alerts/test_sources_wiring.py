"""Every kind's parser is reachable through the webhook, with its own acceptance rules."""

import json

import pytest

from alerts.models import Alert, InboundEvent
from alerts.services import integration_create
from incidents.models import Incident
from tests.base import post_alert, process


def pd_event(action: str, **payload) -> dict:
    event = {"routing_key": "r" * 32, "event_action": action, "dedup_key": "db-01/disk"}
    if action == "trigger":
        event["payload"] = {
            "summary": "Disk full",
            "source": "db-01",
            "severity": "error",
            **payload,
        }
    return event


@pytest.fixture
def pagerduty(floor):
    return integration_create(name="PagerDuty-style", kind="pagerduty", team=floor.dba)


def test_a_source_acknowledgement_acknowledges_the_incident(client, pagerduty):
    _, token = pagerduty
    post_alert(client, token, pd_event("trigger"))
    post_alert(client, token, pd_event("acknowledge"))
    process()
    incident = Incident.objects.get()
    assert incident.status == "acknowledged"
    assert incident.acknowledged_at is not None
    assert incident.acknowledged_by is None  # the integration, not a person
    event = incident.events.get(kind="status_changed")
    assert event.via == "system"
    assert "PagerDuty-style" in event.message
    assert Alert.objects.get().status == "firing"


def test_an_acknowledgement_for_an_unknown_key_creates_nothing(client, pagerduty):
    _, token = pagerduty
    post_alert(client, token, pd_event("acknowledge"))
    process()
    assert Alert.objects.count() == 0
    assert InboundEvent.objects.get().result["alerts"][0]["action"] == "unknown_acknowledge"


def test_a_source_acknowledgement_does_not_unresolve(client, floor, pagerduty):
    _, token = pagerduty
    post_alert(client, token, pd_event("trigger"))
    process()
    incident = Incident.objects.get()
    floor.client_for(floor.dave).post(f"/incidents/{incident.pk}/resolve/")
    post_alert(client, token, pd_event("acknowledge"))
    process()
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_the_severity_map_of_an_integration_applies(client, floor):
    integration, token = integration_create(name="PD", kind="pagerduty", team=floor.dba)
    integration.config = {"severity_map": {"warning": "critical"}}
    integration.save()
    post_alert(client, token, pd_event("trigger", severity="warning"))
    process()
    assert Alert.objects.get().severity == "critical"


def test_a_form_body_reaches_a_kind_that_takes_forms(client, floor):
    _, token = integration_create(name="LM", kind="logicmonitor", team=floor.dba)
    body = (
        "alertid=LMS123&alertStatus=active&level=critical&host=db-07&datasource=Disk"
        "&datapoint=PercentUsed&value=97&message=Disk+97%25+full&service=ledger"
    )
    response = post_alert(client, token, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202
    process()
    alert = Alert.objects.get()
    assert (alert.fingerprint, alert.severity, alert.source, alert.service) == (
        "LMS123",
        "critical",
        "db-07",
        "ledger",
    )


def test_cloudwatch_takes_text_plain(client, floor, settings):
    settings.IOC_SNS_VERIFY_SIGNATURES = False  # an unsigned envelope: signatures in test_sns.py
    _, token = integration_create(name="CW", kind="cloudwatch", team=floor.first_line)
    alarm = {
        "AlarmName": "api-5xx-high",
        "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-5xx-high",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold crossed",
        "AWSAccountId": "123456789012",
        "Region": "EU (Ireland)",
        "Trigger": {"MetricName": "5XXError", "Dimensions": []},
    }
    envelope = {
        "Type": "Notification",
        "MessageId": "11111111-2222-3333-4444-555555555555",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ioc",
        "Subject": "ALARM: api-5xx-high",
        "Message": json.dumps(alarm),
        "Timestamp": "2026-11-25T10:00:00.000Z",
    }
    response = post_alert(
        client, token, json.dumps(envelope), content_type="text/plain; charset=UTF-8"
    )
    assert response.status_code == 202
    process()
    assert Alert.objects.get().name == "api-5xx-high"


def test_an_ignored_payload_is_recorded_and_opens_nothing(client, floor):
    _, token = integration_create(name="Kuma", kind="uptime_kuma", team=floor.first_line)
    post_alert(client, token, {"heartbeat": None, "monitor": None, "msg": "Test notification"})
    process()
    event = InboundEvent.objects.get()
    assert event.status == "processed"
    assert "test" in event.result["ignored"].lower()
    assert Incident.objects.count() == 0


@pytest.mark.parametrize("kind", ["alertmanager", "grafana", "zabbix", "azure", "gcp", "sentry"])
def test_kinds_that_take_only_json_refuse_forms(client, floor, kind):
    _, token = integration_create(name=kind, kind=kind, team=floor.first_line)
    response = post_alert(client, token, "a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_every_kind_has_a_parser_module():
    from alerts.models import Integration
    from alerts.sources import source_for_kind

    missing = []
    for kind in Integration.Kind.values:
        try:
            module = source_for_kind(kind)
        except ImportError:
            missing.append(kind)
            continue
        assert module.CONTENT_TYPES
    assert missing == []
