"""Opsgenie-style alert API: create, close and acknowledge by alias with a GenieKey."""

import hashlib
import hmac
import json

import pytest
from django.test import Client

from alerts.models import Alert, InboundEvent
from alerts.services import integration_create
from incidents.models import Incident
from tests.base import process


@pytest.fixture
def opsgenie(floor):
    return integration_create(name="Moved from Opsgenie", kind="opsgenie", team=floor.first_line)


def call(path: str, key: str | None, body=None):
    headers = {"HTTP_AUTHORIZATION": f"GenieKey {key}"} if key else {}
    data = "" if body is None else json.dumps(body)
    return Client().post(path, data=data, content_type="application/json", **headers)


def test_create_answers_202_with_a_request_id(opsgenie):
    _, token = opsgenie
    response = call(
        "/v2/alerts",
        token,
        {
            "message": "Backup failed on nas-2",
            "alias": "nas-2/backup",
            "priority": "P2",
            "tags": ["service:backup"],
        },
    )
    assert response.status_code == 202
    body = response.json()
    assert body["result"] == "Request will be processed"
    assert isinstance(body["took"], float)
    assert len(body["requestId"]) == 36
    process()
    alert = Alert.objects.get()
    assert (alert.fingerprint, alert.severity, alert.service) == ("nas-2/backup", "high", "backup")


def test_close_by_alias_resolves_the_alert(opsgenie):
    _, token = opsgenie
    call("/v2/alerts", token, {"message": "Backup failed", "alias": "nas-2/backup"})
    response = call(
        "/v2/alerts/nas-2%2Fbackup/close?identifierType=alias",
        token,
        {"user": "cron", "note": "rerun succeeded"},
    )
    assert response.status_code == 202
    process()
    assert Alert.objects.get().status == "resolved"


def test_close_without_a_body_works(opsgenie):
    _, token = opsgenie
    call("/v2/alerts", token, {"message": "Backup failed", "alias": "b1"})
    assert call("/v2/alerts/b1/close?identifierType=alias", token).status_code == 202
    process()
    assert Alert.objects.get().status == "resolved"


def test_acknowledge_by_alias_acknowledges_the_incident(opsgenie):
    _, token = opsgenie
    call("/v2/alerts", token, {"message": "Backup failed", "alias": "b2"})
    assert call("/v2/alerts/b2/acknowledge?identifierType=alias", token, {}).status_code == 202
    process()
    assert Incident.objects.get().status == "acknowledged"


def test_other_identifier_types_are_refused(opsgenie):
    _, token = opsgenie
    response = call("/v2/alerts/b3/close?identifierType=id", token, {})
    assert response.status_code == 400
    assert "alias" in response.json()["message"]
    assert call("/v2/alerts/b3/close", token, {}).status_code == 400


@pytest.mark.parametrize("key", [None, "not-a-key"])
def test_a_missing_or_unknown_genie_key_is_a_401(opsgenie, key):
    assert call("/v2/alerts", key, {"message": "x"}).status_code == 401
    assert InboundEvent.objects.count() == 0


def test_a_key_of_another_kind_is_a_401(floor):
    assert call("/v2/alerts", floor.token, {"message": "x"}).status_code == 401


def test_a_create_without_message_is_stored_and_fails_in_processing(opsgenie):
    # Opsgenie itself answers 202 and fails later; IOC keeps the delivery with its error.
    _, token = opsgenie
    assert call("/v2/alerts", token, {"alias": "x"}).status_code == 202
    process()
    event = InboundEvent.objects.get()
    assert event.status == "failed"
    assert "message" in event.error


def test_a_close_with_a_body_nested_too_deeply_is_a_400_in_opsgenie_shape(opsgenie):
    _, token = opsgenie
    response = Client().post(
        "/v2/alerts/b4/close?identifierType=alias",
        data=b"[" * 100_000 + b"]" * 100_000,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"GenieKey {token}",
    )
    assert response.status_code == 400
    assert "nested" in response.json()["message"]
    assert response.json()["took"] == 0.0
    assert InboundEvent.objects.count() == 0


def test_a_close_finds_the_signature_header_whatever_its_case(opsgenie):
    integration, token = opsgenie
    integration.config = {"hmac_secret": "k", "hmac_header": "x-signature"}
    integration.save()
    body = json.dumps({"user": "cron"})
    signature = hmac.new(b"k", body.encode(), hashlib.sha256).hexdigest()
    response = Client().post(
        "/v2/alerts/b5/close?identifierType=alias",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"GenieKey {token}",
        HTTP_X_SIGNATURE=signature,
    )
    assert response.status_code == 202, response.content


def test_over_the_rate_limit_it_answers_429_in_opsgenie_shape(opsgenie):
    import redis
    from django.conf import settings

    integration, token = opsgenie
    integration.rate_limit_per_minute = 1
    integration.save()
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"ioc:ratelimit:{integration.pk}:*"):
        client.delete(key)
    assert call("/v2/alerts", token, {"message": "first"}).status_code == 202
    refused = call("/v2/alerts", token, {"message": "one too many"})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert "rate limit" in refused.json()["message"]
    assert refused.json()["took"] == 0.0
    assert InboundEvent.objects.count() == 1
