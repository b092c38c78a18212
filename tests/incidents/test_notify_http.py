"""The shared HTTP client: what every HTTP integration sends, and how answers are classified."""

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from incidents.notify import Message, deliver
from tests.incidents.test_notify_sinks import (  # noqa: F401
    Reply,
    closed_port,
    http_sink_fixture,
    no_internet_fixture,
)


def webhook(url: str, key: str = "notification-1") -> Message:
    return Message(key=key, channel="webhook", address=url, text="Database down", title="DB")


def test_it_posts_with_the_idempotency_key_and_user_agent(http_sink):
    result = deliver(webhook(http_sink.url + "/hook?token=abc", key="ntf-42-7"))

    assert result.ok
    request = http_sink.last
    assert (request.method, request.path) == ("POST", "/hook?token=abc")
    assert request.headers["idempotency-key"] == "ntf-42-7"
    assert request.headers["user-agent"] == "IOC"
    assert request.headers["content-type"] == "application/json; charset=utf-8"


def test_it_sends_the_same_key_on_every_attempt(http_sink):
    http_sink.answer(500, 200)

    first = deliver(webhook(http_sink.url, key="same-key"))
    second = deliver(webhook(http_sink.url, key="same-key"))

    assert (first.ok, first.permanent, first.status_code) == (False, False, 500)
    assert second.ok
    assert [r.headers["idempotency-key"] for r in http_sink.requests] == ["same-key"] * 2
    assert http_sink.requests[0].body == http_sink.requests[1].body


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_it_takes_any_2xx_as_delivered(http_sink, status):
    http_sink.answer(status)

    assert deliver(webhook(http_sink.url)).ok


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_it_treats_timeouts_throttling_and_5xx_as_transient(http_sink, status):
    http_sink.answer(Reply(status=status, body=b"busy"))

    result = deliver(webhook(http_sink.url))

    assert (result.ok, result.permanent, result.status_code) == (False, False, status)
    assert result.error == f"the webhook answered HTTP {status}: busy"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 422])
def test_it_treats_other_4xx_as_permanent(http_sink, status):
    http_sink.answer(status)

    result = deliver(webhook(http_sink.url))

    assert (result.ok, result.permanent, result.status_code) == (False, True, status)


def test_it_does_not_follow_a_redirect(http_sink):
    http_sink.answer(Reply(status=301, body=b"", headers={"Location": http_sink.url + "/new"}))

    result = deliver(webhook(http_sink.url + "/old"))

    assert (result.ok, result.permanent, result.status_code) == (False, True, 301)
    assert "redirect" in result.error
    assert [r.path for r in http_sink.requests] == ["/old"]


def test_it_exposes_retry_after_in_seconds(http_sink):
    http_sink.answer(Reply(status=429, body=b"slow down", headers={"Retry-After": "120"}))

    result = deliver(webhook(http_sink.url))

    assert (result.permanent, result.retry_after) == (False, 120.0)


def test_it_exposes_retry_after_given_as_a_date(http_sink):
    later = datetime.now(UTC) + timedelta(minutes=5)
    http_sink.answer(
        Reply(status=503, body=b"", headers={"Retry-After": format_datetime(later, usegmt=True)})
    )

    result = deliver(webhook(http_sink.url))

    assert 290 <= result.retry_after <= 300


def test_it_ignores_a_retry_after_it_cannot_read(http_sink):
    http_sink.answer(Reply(status=503, body=b"", headers={"Retry-After": "soon"}))

    assert deliver(webhook(http_sink.url)).retry_after is None


def test_it_treats_a_refused_connection_as_transient():
    result = deliver(webhook(f"http://127.0.0.1:{closed_port()}/hook"))

    assert (result.ok, result.permanent, result.status_code) == (False, False, None)
    assert result.error.startswith("could not reach the webhook: ")


def test_it_treats_a_slow_receiver_as_transient(http_sink, settings):
    settings.IOC_NOTIFY_HTTP_TIMEOUT = 0.3
    http_sink.answer(Reply(delay=1.5))

    started = time.monotonic()
    result = deliver(webhook(http_sink.url))

    assert time.monotonic() - started < 1.4
    assert (result.ok, result.permanent) == (False, False)
    assert result.error == "could not reach the webhook: timed out"


def test_it_never_puts_the_url_in_an_error(http_sink):
    secret = "/services/T000/B000/very-secret-token"
    http_sink.answer(500)

    failed = deliver(webhook(http_sink.url + secret))
    refused = deliver(webhook(f"http://127.0.0.1:{closed_port()}{secret}"))

    assert "secret" not in failed.error
    assert "secret" not in refused.error


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "127.0.0.1:80/hook",
        "http:///path",
        "http://[::1",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1/a b",
        "http://127.0.0.1/\r\nX-Injected: 1",
    ],
)
def test_it_refuses_an_address_that_is_not_http(url):
    result = deliver(webhook(url))

    assert (result.ok, result.permanent) == (False, True)
    assert result.error == "the webhook address is not an http(s) URL"


@pytest.mark.parametrize("key", ["", "has space", "line\nbreak", "é", "x" * 201])
def test_it_refuses_a_key_that_cannot_travel_in_a_header(http_sink, key):
    result = deliver(webhook(http_sink.url, key=key))

    assert (result.ok, result.permanent) == (False, True)
    assert http_sink.requests == []


def test_it_reads_only_the_start_of_a_huge_error_body(http_sink):
    http_sink.answer(Reply(status=400, body=b"x" * 1_000_000))

    result = deliver(webhook(http_sink.url))

    assert result.permanent
    assert len(result.error) < 300
