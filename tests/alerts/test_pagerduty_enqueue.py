"""PagerDuty's Events API v2 at POST /v2/enqueue: answered exactly as PagerDuty answers."""

import json

import pytest
from django.test import Client

from alerts.models import Alert, InboundEvent
from alerts.services import integration_create
from incidents.models import Incident
from tests.base import process


@pytest.fixture
def pagerduty(floor):
    integration, token = integration_create(name="PD", kind="pagerduty", team=floor.dba)
    return integration, token


def enqueue(body) -> object:
    data = body if isinstance(body, str) else json.dumps(body)
    return Client().post("/v2/enqueue", data=data, content_type="application/json")


def trigger(token: str, **extra) -> dict:
    return {
        "routing_key": token,
        "event_action": "trigger",
        "payload": {"summary": "Checkout latency high", "source": "web-7", "severity": "critical"},
        **extra,
    }


def test_it_answers_202_with_the_dedup_key(pagerduty):
    _, token = pagerduty
    response = enqueue(trigger(token, dedup_key="checkout/latency"))
    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "checkout/latency",
    }
    process()
    assert Alert.objects.get().fingerprint == "checkout/latency"


def test_a_trigger_without_dedup_key_gets_one_that_resolves_it(pagerduty):
    _, token = pagerduty
    dedup_key = enqueue(trigger(token)).json()["dedup_key"]
    assert dedup_key
    process()
    assert Alert.objects.get().fingerprint == dedup_key
    resolve = enqueue({"routing_key": token, "event_action": "resolve", "dedup_key": dedup_key})
    assert resolve.status_code == 202
    process()
    assert Alert.objects.get().status == "resolved"


def test_acknowledge_and_resolve_flow_through(pagerduty):
    _, token = pagerduty
    enqueue(trigger(token, dedup_key="k1"))
    enqueue({"routing_key": token, "event_action": "acknowledge", "dedup_key": "k1"})
    process()
    incident = Incident.objects.get()
    assert incident.status == "acknowledged"
    assert incident.severity == "SEV2"


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda e: e.pop("routing_key"), "routing_key"),
        (lambda e: e.update(event_action="explode"), "event_action"),
        (lambda e: e["payload"].pop("summary"), "summary"),
        (lambda e: e.update(event_action="resolve"), "dedup_key"),
    ],
)
def test_an_invalid_event_is_a_400_in_pagerduty_shape(pagerduty, mutate, fragment):
    _, token = pagerduty
    event = trigger(token)
    mutate(event)
    response = enqueue(event)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert any(fragment in error for error in body["errors"])
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("body", ["{not json", "[1]", ""])
def test_a_body_that_is_not_an_event_is_a_400(pagerduty, body):
    response = enqueue(body)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"


def test_an_unknown_routing_key_is_refused(floor):
    response = enqueue(trigger("nobody-has-this-key"))
    assert response.status_code == 404
    assert response.json()["status"] == "invalid event"


def test_a_routing_key_of_another_kind_is_refused(floor):
    response = enqueue(trigger(floor.token))  # a generic integration's token
    assert response.status_code == 404
    assert InboundEvent.objects.count() == 0


def test_over_the_rate_limit_it_answers_429_as_pagerduty_does(pagerduty):
    import redis
    from django.conf import settings

    integration, token = pagerduty
    integration.rate_limit_per_minute = 1
    integration.save()
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"ioc:ratelimit:{integration.pk}:*"):
        client.delete(key)
    assert enqueue(trigger(token, dedup_key="a")).status_code == 202
    refused = enqueue(trigger(token, dedup_key="b"))
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["status"] == "throttle event"


def test_the_routing_key_is_redacted_from_stored_headers_and_kept_out_of_alerts(pagerduty):
    _, token = pagerduty
    enqueue(trigger(token, dedup_key="k"))
    process()
    assert token not in json.dumps(Alert.objects.get().labels)


def test_the_routing_key_is_not_stored_in_the_raw_delivery(pagerduty):
    _, token = pagerduty
    enqueue(trigger(token, dedup_key="k"))
    stored = InboundEvent.objects.get()
    assert token not in stored.body
    assert '"routing_key": "[redacted]"' in stored.body
    process()
    assert Alert.objects.get().fingerprint == "k"


def test_the_routing_key_is_blanked_at_the_integration_url_too(client, pagerduty):
    _, token = pagerduty
    response = client.post(
        f"/integrations/{token}/", data=json.dumps(trigger(token)), content_type="application/json"
    )
    assert response.status_code == 202
    assert token not in InboundEvent.objects.get().body
