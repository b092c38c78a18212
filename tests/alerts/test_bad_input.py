"""Bad input is refused with a clear JSON error, and nothing is stored."""

import asyncio
import json

import pytest
from django.test import override_settings

from alerts.models import InboundEvent
from alerts.services import integration_create
from ioc.bodylimit import WebhookBodyLimit
from tests.base import post_alert


def assert_refused(response, status: int, fragment: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert fragment in response.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_it_answers_404_for_an_unknown_token(client, floor):
    assert_refused(post_alert(client, "no-such-token", {"summary": "x"}), 404, "unknown")


def test_it_answers_403_for_a_disabled_integration(client, floor):
    floor.integration.enabled = False
    floor.integration.save()
    assert_refused(post_alert(client, floor.token, {"summary": "x"}), 403, "disabled")


def test_it_refuses_other_methods(client, floor):
    assert client.get(f"/integrations/{floor.token}/").status_code == 405


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]
)
def test_it_answers_415_for_a_content_type_the_kind_does_not_take(client, floor, content_type):
    response = post_alert(client, floor.token, '{"summary": "x"}', content_type=content_type)
    assert_refused(response, 415, "content type")


def test_it_takes_json_with_a_charset(client, floor):
    response = post_alert(
        client, floor.token, '{"summary": "x"}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 202


@override_settings(IOC_WEBHOOK_MAX_BYTES=1000)
def test_it_answers_413_for_a_body_over_the_limit(client, floor):
    body = json.dumps({"summary": "x" * 2000})
    assert_refused(post_alert(client, floor.token, body), 413, "larger than 1000 bytes")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"summary": ', "invalid JSON"),
        (b"  ", "empty"),
        (b'{"summary": "caf\xe9"}', "UTF-8"),
        (b'{"summary": "a\\u0000b"}', "NUL"),
        (b'{"summary": "x", "labels": {"a\\u0000": "b"}}', "NUL"),
        (b"[1, 2]", "JSON object"),
        (b'"just a string"', "JSON object"),
        (b'{"summary": "x", "labels": ' + b'{"a": ' * 40 + b"1" + b"}" * 41, "nested deeper"),
        (b"[" * 100000 + b"]" * 100000, "nested"),
    ],
)
def test_it_answers_400_for_a_malformed_body(client, floor, body, fragment):
    assert_refused(post_alert(client, floor.token, body), 400, fragment)


def test_it_answers_400_naming_the_missing_summary(client, floor):
    response = post_alert(client, floor.token, {"severity": "high"})
    assert_refused(response, 400, "summary")
    assert response.json()["field"] == "summary"


def test_it_answers_400_for_a_summary_that_is_not_text(client, floor):
    response = post_alert(client, floor.token, {"summary": {"nested": True}})
    assert_refused(response, 400, "summary")


def test_the_body_limit_stops_reading_early_without_content_length(db, settings):
    """The ASGI guard counts bytes as they arrive and answers 413 without reading the rest."""
    settings.IOC_WEBHOOK_MAX_BYTES = 1024
    chunks_read = 0
    total_chunks = 1000
    sent = []

    async def receive():
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 512, "more_body": chunks_read < total_chunks}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        raise AssertionError("the application must not be called")

    scope = {"type": "http", "path": "/integrations/abc/", "method": "POST", "headers": []}
    asyncio.run(WebhookBodyLimit(app)(scope, receive, send))
    assert sent[0]["status"] == 413
    assert chunks_read == 3  # 1536 bytes > 1024: stopped at the third chunk of a thousand
    assert b"larger than 1024" in sent[1]["body"]


def test_the_body_limit_refuses_a_declared_length_at_once(db, settings):
    settings.IOC_WEBHOOK_MAX_BYTES = 1024
    sent = []

    async def receive():
        raise AssertionError("the body must not be read")

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "path": "/integrations/abc/",
        "method": "POST",
        "headers": [(b"content-length", b"5000000")],
    }
    asyncio.run(WebhookBodyLimit(None)(scope, receive, send))
    assert sent[0]["status"] == 413


def test_other_paths_pass_through_the_body_limit(db, settings):
    settings.IOC_WEBHOOK_MAX_BYTES = 10
    called = []

    async def app(scope, receive, send):
        called.append(scope["path"])

    scope = {"type": "http", "path": "/admin/", "headers": [(b"content-length", b"99999")]}
    asyncio.run(WebhookBodyLimit(app)(scope, None, None))
    assert called == ["/admin/"]


def test_tokens_are_stored_hashed(floor):
    integration, token = integration_create(name="x", kind="generic", team=floor.first_line)
    integration.refresh_from_db()
    assert token not in integration.token_hash
    assert len(token) >= 43  # 256 bits in URL-safe base64
    assert integration.token_hint == token[:6]


@pytest.mark.parametrize("kind", ["datadog", "logicmonitor", "uptime_kuma"])
def test_it_answers_400_for_a_form_with_too_many_fields(client, floor, kind):
    _, token = integration_create(name=kind, kind=kind, team=floor.first_line)
    body = "&".join(f"f{n}=x" for n in range(1001))
    response = post_alert(client, token, body, content_type="application/x-www-form-urlencoded")
    assert_refused(response, 400, "more than 1000 fields")
