"""Who may deliver: path and header tokens, rotation with a grace period, HMAC signatures with
replay refusal, and the per-integration rate limit."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import InboundEvent, Integration
from alerts.services import integration_rotate_token
from tests.base import api_client_for, post_alert

BODY = json.dumps({"summary": "Disk full on db-01", "source": "db-01"})


def post_with_header(authorization: str | None, body: str = BODY, **headers):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    extra.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return Client().post("/integrations/", data=body, content_type="application/json", **extra)


# --- header tokens -------------------------------------------------------------------------------


def test_it_accepts_a_bearer_token(floor):
    response = post_with_header(f"Bearer {floor.token}")
    assert response.status_code == 202
    assert InboundEvent.objects.get().integration == floor.integration


def test_it_accepts_the_token_as_a_basic_auth_password(floor):
    credentials = base64.b64encode(f"alertmanager:{floor.token}".encode()).decode()
    assert post_with_header(f"Basic {credentials}").status_code == 202


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer nope",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"user").decode(),
        "Digest abc",
    ],
)
def test_an_unknown_or_missing_header_token_is_a_401(floor, authorization):
    response = post_with_header(authorization)
    assert response.status_code == 401
    assert "error" in response.json()
    assert InboundEvent.objects.count() == 0


def test_the_stored_headers_never_hold_the_token(floor):
    post_with_header(f"Bearer {floor.token}")
    assert floor.token not in json.dumps(InboundEvent.objects.get().headers)


def test_the_path_token_never_reaches_the_logs(client, floor, caplog):
    caplog.set_level("INFO")
    post_alert(client, floor.token, {"severity": "high"})  # a 400, which Django logs
    from ioc.logfilters import RedactTokens

    redactor = RedactTokens()
    for record in caplog.records:
        redactor.filter(record)
        assert floor.token not in record.getMessage()
    assert any("[redacted]" in record.getMessage() for record in caplog.records)


# --- rotation ------------------------------------------------------------------------------------


def test_a_rotated_token_keeps_working_for_the_grace_period(client, floor):
    old = floor.token
    new = integration_rotate_token(integration=floor.integration, grace=timedelta(hours=1))
    assert new != old
    assert post_alert(client, new, {"summary": "new"}).status_code == 202
    assert post_alert(client, old, {"summary": "old"}).status_code == 202
    Integration.objects.filter(pk=floor.integration.pk).update(
        previous_token_valid_until=timezone.now() - timedelta(seconds=1)
    )
    assert post_alert(client, old, {"summary": "old"}).status_code == 404
    assert post_alert(client, new, {"summary": "new"}).status_code == 202


def test_a_manager_rotates_a_token_through_the_api(client, floor):
    api = api_client_for(floor.manager)
    response = api.post(f"/api/v1/integrations/{floor.integration.pk}/rotate_token/")
    assert response.status_code == 200
    body = response.json()
    assert body["token"] != floor.token
    assert body["ingest_url"].endswith(f"/integrations/{body['token']}/")
    assert body["previous_token_valid_until"] is not None
    assert post_alert(client, body["token"], {"summary": "x"}).status_code == 202
    assert post_alert(client, floor.token, {"summary": "x"}).status_code == 202


def test_a_member_may_not_rotate_a_token(floor):
    response = api_client_for(floor.alice).post(
        f"/api/v1/integrations/{floor.integration.pk}/rotate_token/"
    )
    assert response.status_code == 403


def test_rotating_in_the_admin_shows_the_new_url_once(floor):
    admin = floor.client_for(floor.admin)
    response = admin.post(
        "/admin/alerts/integration/",
        {"action": "rotate_token", "_selected_action": [floor.integration.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"new webhook URL" in response.content
    floor.integration.refresh_from_db()
    assert floor.integration.previous_token_valid_until > timezone.now()


# --- HMAC ----------------------------------------------------------------------------------------


def sign(secret: str, body: str, timestamp: str | None = None) -> str:
    signed = (f"{timestamp}:{body}" if timestamp else body).encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@pytest.fixture
def signed_integration(floor):
    floor.integration.config = {
        "hmac_secret": "s3cret",
        "hmac_timestamp_header": "X-Grafana-Alerting-Timestamp",
    }
    floor.integration.save()
    return floor


def post_signed(token: str, signature: str, timestamp: str, body: str = BODY):
    return Client().post(
        f"/integrations/{token}/",
        data=body,
        content_type="application/json",
        HTTP_X_GRAFANA_ALERTING_SIGNATURE=signature,
        HTTP_X_GRAFANA_ALERTING_TIMESTAMP=timestamp,
    )


def test_a_correct_signature_is_accepted(signed_integration):
    stamp = str(int(time.time()))
    response = post_signed(signed_integration.token, sign("s3cret", BODY, stamp), stamp)
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("signature", "stamp_offset", "fragment"),
    [
        (lambda body, stamp: sign("wrong", body, stamp), 0, "does not match"),
        (lambda body, stamp: sign("s3cret", body + " ", stamp), 0, "does not match"),
        (lambda body, stamp: "", 0, "missing signature"),
        (lambda body, stamp: sign("s3cret", body, stamp), -3600, "stale"),
        (lambda body, stamp: sign("s3cret", body, stamp), +3600, "stale"),
    ],
)
def test_a_bad_or_replayed_signature_is_a_401(
    signed_integration, signature, stamp_offset, fragment
):
    stamp = str(int(time.time()) + stamp_offset)
    response = post_signed(signed_integration.token, signature(BODY, stamp), stamp)
    assert response.status_code == 401
    assert fragment in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_a_signature_over_the_body_alone_when_no_timestamp_header_is_set(floor):
    floor.integration.config = {"hmac_secret": "k", "hmac_header": "X-Signature"}
    floor.integration.save()
    good = Client().post(
        f"/integrations/{floor.token}/",
        data=BODY,
        content_type="application/json",
        HTTP_X_SIGNATURE="sha256=" + sign("k", BODY),
    )
    assert good.status_code == 202


# --- rate limit ----------------------------------------------------------------------------------


def _flush_rate_limit(integration_id: int) -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"ioc:ratelimit:{integration_id}:*"):
        client.delete(key)


def test_over_the_limit_integrations_answer_503_with_retry_after(client, floor):
    floor.integration.rate_limit_per_minute = 3
    floor.integration.save()
    _flush_rate_limit(floor.integration.pk)
    statuses = [post_alert(client, floor.token, {"summary": f"a{n}"}).status_code for n in range(3)]
    assert statuses == [202, 202, 202]
    refused = post_alert(client, floor.token, {"summary": "one too many"})
    assert refused.status_code == 503
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert "rate limit" in refused.json()["error"]
    assert InboundEvent.objects.count() == 3
    # Other integrations are not affected.
    assert post_alert(client, floor.vendor_token, {"summary": "x"}).status_code == 202


def test_the_rate_limit_fails_open_when_redis_is_down(client, floor, settings):
    import alerts.ratelimit as ratelimit

    floor.integration.rate_limit_per_minute = 1
    floor.integration.save()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    ratelimit._redis_client = None
    try:
        statuses = [
            post_alert(client, floor.token, {"summary": f"a{n}"}).status_code for n in range(3)
        ]
    finally:
        ratelimit._redis_client = None
        ratelimit._redis_paused_until = 0.0
    assert statuses == [202, 202, 202]


def test_a_signature_with_non_ascii_characters_is_a_401(signed_integration):
    # Compared as bytes: a str comparison raises on non-ASCII text, which answered 500.
    stamp = str(int(time.time()))
    response = post_signed(signed_integration.token, "sha256=caf\u00e9", stamp)
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_a_redis_that_does_not_answer_is_skipped_for_a_while(settings):
    import socket

    import alerts.ratelimit as ratelimit

    # A server that accepts connections (the kernel's backlog does) and never answers: each
    # command waits for the socket timeout, unlike a refused connection.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        ratelimit._redis_client = None
        try:
            started = time.monotonic()
            first = ratelimit.rate_limit_retry_after(integration_id=1, limit_per_minute=1)
            first_took = time.monotonic() - started
            started = time.monotonic()
            later = [
                ratelimit.rate_limit_retry_after(integration_id=1, limit_per_minute=1)
                for _ in range(20)
            ]
            later_took = time.monotonic() - started
        finally:
            ratelimit._redis_client = None
            ratelimit._redis_paused_until = 0.0
    assert first is None and later == [None] * 20  # fails open
    assert first_took >= 0.1  # it did wait for Redis once
    assert later_took < 0.05  # and then did not ask it again
