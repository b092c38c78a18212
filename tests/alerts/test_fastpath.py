"""The webhook's fast path (alerts/fastpath.py) through a real uvicorn, against the Django view.

Every case of the table runs twice on the same live server: with IOC_WEBHOOK_FAST_PATH on (the
fast path answers) and off (Django's view answers), with the same expectations; a second test
checks that both give byte-for-byte the same answer. The rest is what only the fast path does:
group commit, its cache, its pool, its logs.
"""

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest
from django.db import connections
from django.utils import timezone

from alerts import fastpath
from alerts.models import Alert, InboundEvent, Integration
from alerts.services import integration_create, integration_rotate_token
from tests.alerts.test_sns import CERT_PATH, aws, notification, pki, sign  # noqa: F401
from tests.base import Floor, process

DISK = {"summary": "Disk 95% full on db-01", "severity": "high", "source": "db-01"}
MODES = ["fast path", "django view"]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def post(
    url: str,
    path: str,
    body: bytes | str | dict = b"",
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
    chunks: list[bytes] | None = None,
) -> Answer:
    """One POST with http.client; `chunks`: sent chunked, without Content-Length."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=15)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    data = data.encode() if isinstance(data, str) else data
    all_headers = {"Content-Type": content_type, **(headers or {})}
    try:
        if chunks is not None:
            conn.request("POST", path, body=iter(chunks), headers=all_headers, encode_chunked=True)
        else:
            conn.request("POST", path, body=data, headers=all_headers)
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- one table of cases, both paths ---------------------------------------------------------------


@dataclass
class Target:
    """The integration a case posts to, and its token."""

    integration: Integration
    token: str

    @classmethod
    def of(cls, floor: Floor) -> "Target":
        return cls(floor.integration, floor.token)

    @classmethod
    def new(cls, floor: Floor, name: str) -> "Target":
        integration, token = integration_create(name=name, kind="generic", team=floor.first_line)
        return cls(integration, token)


@dataclass
class Case:
    name: str
    status: int
    fragment: str = ""  # in the JSON error
    field: str | None = None
    stored: int = 0
    # Prepares the integration and builds the request: (path, body, headers, content type).
    request: Callable[[Target], tuple] | None = None


def _path(target: Target) -> str:
    return f"/integrations/{target.token}/"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _disabled(target: Target):
    Integration.objects.filter(pk=target.integration.pk).update(enabled=False)
    return _path(target), DISK, {}, "application/json"


def _signed(secret_given: str | None):
    def request(target: Target):
        Integration.objects.filter(pk=target.integration.pk).update(
            config={"hmac_secret": "s3cret", "hmac_header": "X-Signature"}
        )
        body = json.dumps(DISK).encode()
        headers = {} if secret_given is None else {"X-Signature": signature(secret_given, body)}
        return _path(target), body, headers, "application/json"

    return request


def _signed_with(given: str):
    def request(target: Target):
        Integration.objects.filter(pk=target.integration.pk).update(
            config={"hmac_secret": "s3cret", "hmac_header": "X-Signature"}
        )
        return _path(target), DISK, {"X-Signature": given}, "application/json"

    return request


def _form_fields(count: int):
    def request(target: Target):
        # A kind that takes form bodies.
        Integration.objects.filter(pk=target.integration.pk).update(kind="datadog")
        body = "&".join(f"f{n}=x" for n in range(count))
        return _path(target), body, {}, "application/x-www-form-urlencoded"

    return request


def _rotated(*, grace_over: bool):
    def request(target: Target):
        integration_rotate_token(integration=target.integration, grace=timedelta(hours=1))
        if grace_over:
            Integration.objects.filter(pk=target.integration.pk).update(
                previous_token_valid_until=timezone.now() - timedelta(seconds=1)
            )
        return _path(target), DISK, {}, "application/json"  # the old token

    return request


def _basic(target: Target):
    credentials = base64.b64encode(f"alertmanager:{target.token}".encode()).decode()
    return "/integrations/", DISK, {"Authorization": f"Basic {credentials}"}, "application/json"


CASES = [
    Case("path token", 202, stored=1, request=lambda f: (_path(f), DISK, {}, "application/json")),
    Case(
        "bearer token",
        202,
        stored=1,
        request=lambda f: ("/integrations/", DISK, _bearer(f.token), "application/json"),
    ),
    Case("basic auth token", 202, stored=1, request=_basic),
    Case(
        "json with a charset",
        202,
        stored=1,
        request=lambda f: (_path(f), DISK, {}, "application/json; charset=utf-8"),
    ),
    Case(
        "unknown path token",
        404,
        "unknown integration token",
        request=lambda f: ("/integrations/no-such-token/", DISK, {}, "application/json"),
    ),
    Case(
        "unknown header token",
        401,
        "unknown integration token",
        request=lambda f: ("/integrations/", DISK, _bearer("nope"), "application/json"),
    ),
    Case(
        "no header token",
        401,
        "unknown integration token",
        request=lambda f: ("/integrations/", DISK, {}, "application/json"),
    ),
    Case("disabled integration", 403, "disabled", request=_disabled),
    Case(
        "media type",
        415,
        "content type text/plain is not accepted",
        request=lambda f: (_path(f), json.dumps(DISK), {}, "text/plain"),
    ),
    Case(
        "invalid json",
        400,
        "invalid JSON",
        request=lambda f: (_path(f), b'{"summary": ', {}, "application/json"),
    ),
    Case(
        "missing summary",
        400,
        "summary",
        field="summary",
        request=lambda f: (_path(f), {"severity": "high"}, {}, "application/json"),
    ),
    Case(
        "not an object",
        400,
        "JSON object",
        request=lambda f: (_path(f), b"[1, 2]", {}, "application/json"),
    ),
    Case("signature missing", 401, "missing signature header", request=_signed(None)),
    Case("signature wrong", 401, "does not match", request=_signed("wrong")),
    Case("signature right", 202, stored=1, request=_signed("s3cret")),
    Case("signature not ascii", 401, "does not match", request=_signed_with("sha256=caf\u00e9")),
    Case("form of too many fields", 400, "more than 1000 fields", request=_form_fields(1001)),
    Case("rotated token in its grace period", 202, stored=1, request=_rotated(grace_over=False)),
    Case(
        "rotated token after its grace period",
        404,
        "unknown integration token",
        request=_rotated(grace_over=True),
    ),
]


@pytest.fixture(params=MODES)
def mode(request, settings) -> str:
    settings.IOC_WEBHOOK_FAST_PATH = request.param == "fast path"
    return request.param


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_it_answers_as_the_view_does(live_asgi, mode, case):
    path, body, headers, content_type = case.request(Target.of(Floor()))
    answer = post(live_asgi.url, path, body, headers=headers, content_type=content_type)
    assert answer.status == case.status, answer.body
    assert answer.headers["content-type"] == "application/json"
    if case.status == 202:
        delivery = InboundEvent.objects.get(pk=answer.json()["delivery_id"])
        assert answer.json() == {"status": "accepted", "delivery_id": delivery.pk}
        assert delivery.status == "pending"
    else:
        assert case.fragment in answer.json()["error"]
        assert answer.json().get("field") == case.field
    assert InboundEvent.objects.count() == case.stored


def _answer_in(mode_name: str, settings, url: str, request) -> Answer:
    settings.IOC_WEBHOOK_FAST_PATH = mode_name == "fast path"
    return post(url, *request[:2], headers=request[2], content_type=request[3])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_both_paths_give_the_same_answer_byte_for_byte(live_asgi, settings, case):
    request = case.request(Target.of(Floor()))
    fast = _answer_in("fast path", settings, live_asgi.url, request)
    view = _answer_in("django view", settings, live_asgi.url, request)
    if case.status == 202:
        assert fast.json()["delivery_id"] + 1 == view.json()["delivery_id"]
        fast.body = view.body = b""
    for answer in (fast, view):
        answer.headers.pop("date")
    assert (fast.status, fast.headers, fast.body) == (view.status, view.headers, view.body)


def test_both_paths_store_the_same_row(live_asgi, settings):
    floor = Floor()
    request = ("/integrations/", DISK, {**_bearer(floor.token), "X-Api-Key": "k"}, "")
    request = (*request[:3], "application/json")
    ids = [
        _answer_in(name, settings, live_asgi.url, request).json()["delivery_id"] for name in MODES
    ]
    fast, view = (InboundEvent.objects.filter(pk=pk).values().get() for pk in ids)
    for row in (fast, view):
        del row["id"], row["received_at"]
    assert fast == view
    assert fast["headers"]["Authorization"] == "[redacted]"
    assert fast["headers"]["X-Api-Key"] == "[redacted]"
    assert floor.token not in json.dumps(fast)


def test_an_accepted_delivery_is_processed_later(live_asgi, mode):
    floor = Floor()
    answer = post(live_asgi.url, _path(Target.of(floor)), DISK)
    assert answer.status == 202
    assert Alert.objects.count() == 0  # nothing processed inside the request
    assert process() == 1
    alert = Alert.objects.get()
    assert (alert.summary, alert.severity, alert.integration) == (
        DISK["summary"],
        "high",
        floor.integration,
    )
    assert InboundEvent.objects.get().status == "processed"


def _flush_rate_limit(integration_id: int) -> None:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"ioc:ratelimit:{integration_id}:*"):
        client.delete(key)


def test_over_the_rate_limit_it_answers_503_with_retry_after(live_asgi, mode):
    floor = Floor()
    Integration.objects.filter(pk=floor.integration.pk).update(rate_limit_per_minute=2)
    _flush_rate_limit(floor.integration.pk)
    answers = [post(live_asgi.url, _path(Target.of(floor)), {"summary": f"n{n}"}) for n in range(3)]
    assert [a.status for a in answers] == [202, 202, 503]
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert "rate limit" in refused.json()["error"]
    assert InboundEvent.objects.count() == 2


# --- the body limit, in front of both -------------------------------------------------------------


def _post_chunks_and_stop(url: str, path: str, chunks: list[bytes]) -> Answer:
    """Send a chunked body's first chunks and no end, then read the answer: the server must
    answer without the rest (and nothing we sent is left unread, so the close is clean)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        sock.sendall(head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks))
        raw = b""
        while data := sock.recv(65536):
            raw += data
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return Answer(int(lines[0].split()[1]), headers, body)


@pytest.mark.parametrize("how", ["content-length", "chunked"])
def test_an_oversized_body_is_a_413(live_asgi, mode, settings, how):
    settings.IOC_WEBHOOK_MAX_BYTES = 1000
    floor = Floor()
    body = json.dumps({"summary": "x" * 2000}).encode()
    if how == "chunked":
        # 1,400 bytes sent of 2,000: the answer comes before the rest of the body.
        chunks = [body[:700], body[700:1400]]
        answer = _post_chunks_and_stop(live_asgi.url, _path(Target.of(floor)), chunks)
    else:
        answer = post(live_asgi.url, _path(Target.of(floor)), body)
    assert answer.status == 413
    assert "larger than 1000 bytes" in answer.json()["error"]
    assert InboundEvent.objects.count() == 0


def test_a_chunked_body_within_the_limit_is_accepted(live_asgi, mode):
    floor = Floor()
    body = json.dumps(DISK).encode()
    answer = post(live_asgi.url, _path(Target.of(floor)), chunks=[body[:10], body[10:]])
    assert answer.status == 202
    assert InboundEvent.objects.get().body == body.decode()


# --- where Django's middleware answers, it still does ---------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("POST", "/integrations/{token}/", {"Host": "evil.example"}, 400),  # ALLOWED_HOSTS
        ("GET", "/integrations/{token}/", {}, 405),
        ("POST", "/integrations/{token}", {}, 301),  # APPEND_SLASH
    ],
)
def test_django_still_answers_what_its_middleware_answers(
    live_asgi, settings, method, path, headers, status
):
    floor = Floor()
    answers = []
    for name in MODES:
        settings.IOC_WEBHOOK_FAST_PATH = name == "fast path"
        host, port = live_asgi.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=15)
        conn.request(method, path.format(token=floor.token), body=b"{}", headers=headers)
        response = conn.getresponse()
        answers.append((response.status, response.read()))
        conn.close()
    assert answers[0] == answers[1]
    assert answers[0][0] == status
    assert InboundEvent.objects.count() == 0


# --- only the fast path ---------------------------------------------------------------------------


@pytest.fixture
def fast(settings):
    settings.IOC_WEBHOOK_FAST_PATH = True


def _checker_connections(count: int) -> "queue.Queue[psycopg.Connection]":
    params = connections["default"].settings_dict
    pool: queue.Queue[psycopg.Connection] = queue.Queue()
    for _ in range(count):
        pool.put(
            psycopg.connect(
                dbname=params["NAME"],
                user=params["USER"] or None,
                password=params["PASSWORD"] or None,
                host=params["HOST"] or None,
                port=params["PORT"] or None,
                autocommit=True,
            )
        )
    return pool


def test_concurrent_deliveries_share_commits_and_each_is_answered_after_its_commit(
    live_asgi, fast, monkeypatch
):
    floor = Floor()
    kicks = []
    monkeypatch.setattr("ioc.background.kick_processing", lambda: kicks.append(1))
    before = fastpath.stats()
    checkers = _checker_connections(10)
    barrier = threading.Barrier(50)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def deliver(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            answer = post(live_asgi.url, _path(Target.of(floor)), {**DISK, "summary": f"disk {n}"})
            delivery_id = answer.json()["delivery_id"]
            conn = checkers.get(timeout=30)
            try:
                # Another connection sees the row as soon as the 202 is in.
                row = conn.execute(
                    "SELECT 1 FROM alerts_inboundevent WHERE id = %s", (delivery_id,)
                ).fetchone()
            finally:
                checkers.put(conn)
            results.append((answer.status, row is not None))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    while not checkers.empty():
        checkers.get().close()
    assert errors == []
    assert results == [(202, True)] * 50
    assert InboundEvent.objects.count() == 50
    after = fastpath.stats()
    groups = after["groups"] - before["groups"]
    assert after["rows"] - before["rows"] == 50
    assert groups < 50, "concurrent deliveries were committed one by one"
    # Processing is kicked once per committed group at most (kicks in flight coalesce).
    deadline = time.monotonic() + 5
    while not kicks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 1 <= len(kicks) <= groups


def test_disabling_takes_effect_within_the_cache_time(live_asgi, fast, monkeypatch):
    monkeypatch.setattr(fastpath, "INTEGRATION_CACHE_SECONDS", 0.5)
    floor = Floor()
    assert post(live_asgi.url, _path(Target.of(floor)), DISK).status == 202
    Integration.objects.filter(pk=floor.integration.pk).update(enabled=False)
    deadline = time.monotonic() + 5
    status = 202
    while status == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
        status = post(live_asgi.url, _path(Target.of(floor)), DISK).status
    assert status == 403


def test_a_new_token_works_at_once(live_asgi, fast):
    floor = Floor()
    assert post(live_asgi.url, _path(Target.of(floor)), DISK).status == 202
    # Unknown tokens are not cached: a token issued now is accepted on its first delivery.
    _, token = integration_create(name="New", kind="generic", team=floor.first_line)
    assert post(live_asgi.url, f"/integrations/{token}/", DISK).status == 202


def test_an_sns_notification_is_checked_off_the_event_loop(live_asgi, fast, aws, pki):  # noqa: F811
    floor = Floor()
    _, token = integration_create(name="CloudWatch", kind="cloudwatch", team=floor.first_line)
    envelope = sign(notification(), pki, cert_url=aws.url(CERT_PATH))
    answer = post(live_asgi.url, f"/integrations/{token}/", envelope, content_type="text/plain")
    assert answer.status == 202, answer.body
    tampered = {**envelope, "Message": envelope["Message"].replace("ALARM", "OK")}
    refused = post(live_asgi.url, f"/integrations/{token}/", tampered, content_type="text/plain")
    assert refused.status == 401
    assert InboundEvent.objects.count() == 1


def test_the_token_never_reaches_the_logs(live_asgi, fast, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    floor = Floor()
    tokens = [floor.token]
    # Every answer of the table, plus a failure inside the fast path (logged with its traceback).
    for n, case in enumerate(CASES):
        target = Target.new(floor, f"case {n}")
        tokens.append(target.token)
        path, body, headers, content_type = case.request(target)
        post(live_asgi.url, path, body, headers=headers, content_type=content_type)

    async def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(fastpath, "_insert_events", broken)
    answer = post(live_asgi.url, _path(Target.of(floor)), DISK)
    assert answer.status == 500
    assert "not stored" in answer.json()["error"]
    assert any("storing a group" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert not any(token in text for token in tokens), record.getMessage()


def test_the_routing_key_is_blanked_in_the_stored_body_on_both_paths(live_asgi, mode):
    from alerts.services import integration_create

    floor = Floor()
    _, token = integration_create(name="PD", kind="pagerduty", team=floor.first_line)
    event = {
        "routing_key": token,
        "event_action": "trigger",
        "dedup_key": "k",
        "payload": {"summary": "Disk full", "source": "db-1", "severity": "error"},
    }
    assert post(live_asgi.url, f"/integrations/{token}/", event).status == 202
    stored = InboundEvent.objects.get()
    assert token not in stored.body
    assert '"routing_key": "[redacted]"' in stored.body


@pytest.mark.parametrize("insert", ["one statement", "row by row"])
def test_a_request_gone_while_its_group_commits_does_not_fail_the_group(
    monkeypatch, caplog, insert
):
    """A request cancelled while waiting (its client went away, or shutdown) leaves a cancelled
    future: the committer must answer the others as if it were not there."""
    from types import SimpleNamespace

    from alerts.payloads import BodyError

    monkeypatch.setattr("ioc.background.kick_processing", lambda: None)
    refusal = BodyError(503, "rate limit exceeded", retry_after=1)
    monkeypatch.setattr(
        fastpath, "_rate_limits", lambda kinds: [refusal if k == "over" else None for k in kinds]
    )

    async def scenario():
        inserting: asyncio.Queue[int] = asyncio.Queue()
        releases: asyncio.Queue[None] = asyncio.Queue()

        async def insert_events(pool, events):
            inserting.put_nowait(len(events))
            await releases.get()
            if insert == "row by row" and len(events) > 1:
                raise psycopg.DataError("one bad row")
            return [int(event.body) for event in events]

        monkeypatch.setattr(fastpath, "_insert_events", insert_events)

        async def pool():
            return None

        committer = fastpath.GroupCommitter(SimpleNamespace(pool=pool))
        deliveries = {  # name: (rate limit verdict, id the insert gives)
            "first": ("under", 1),
            "refused, gone": ("over", 0),
            "accepted, gone": ("under", 2),
            "accepted": ("under", 3),
            "refused": ("over", 0),
        }
        tasks = {
            name: asyncio.create_task(committer.store(verdict, InboundEvent(body=str(pk)), size=1))
            for name, (verdict, pk) in deliveries.items()
        }
        # The first delivery commits alone; the others gather into the next group meanwhile.
        assert await asyncio.wait_for(inserting.get(), 5) == 1
        tasks["refused, gone"].cancel()
        releases.put_nowait(None)
        assert await tasks["first"] == 1
        assert await asyncio.wait_for(inserting.get(), 5) == 2
        tasks["accepted, gone"].cancel()
        for _ in range(3):
            releases.put_nowait(None)
        assert await asyncio.wait_for(tasks["accepted"], 5) == 3
        with pytest.raises(BodyError):
            await tasks["refused"]
        assert tasks["refused, gone"].cancelled() and tasks["accepted, gone"].cancelled()

    asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
