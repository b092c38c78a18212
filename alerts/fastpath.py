"""The webhook's hot path on PostgreSQL: `POST /integrations/<token>/` and `POST /integrations/`
answered by a lean ASGI handler in front of Django, with group commit.

Django's request handling (its middleware stack and the sync view run in a thread) costs more
than a durable INSERT under ASGI, so these two endpoints skip it. Nothing else is skipped: every
check is accept.py's own function (token lookup, enabled, HMAC, size, media type, JSON and the
source's checks, rate limit), the answers are views.json_error's, and Django still answers
whenever its middleware would have answered instead of the view (a host not in ALLOWED_HOSTS, the
HTTPS redirect, a script prefix, another method or path).

Durability is unchanged: a request is answered 202 only after its row is committed. Concurrent
requests share the commit: their rows go into one multi-row INSERT in one transaction (group
commit, `synchronous_commit` untouched), and each is answered after that commit. After each
committed group, processing is kicked once, in a thread.

An integration found by its token is kept in memory for INTEGRATION_CACHE_SECONDS (keyed by the
token's hash, per process): disabling an integration, or rotating its token without a grace
period, takes effect on this path within that time (the end of a grace period takes effect on
time). Unknown tokens are never cached, so a new integration or token works at once.

The embedded SQLite mode keeps the Django view (`fast_path_enabled`).
"""

import asyncio
import io
import json
import logging
import time
import weakref
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest, get_script_prefix
from django.core.signals import setting_changed
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string

from ioc import background
from ioc.bodylimit import replay

from .accept import (
    delivery_row,
    integration_find_by_token,
    integration_usable,
    payload_check,
    rate_limit_check,
    signature_check,
    sns_signed,
    token_from_authorization,
)
from .models import InboundEvent, Integration
from .payloads import BodyError
from .tokens import token_hash
from .views import accepted_body, body_error_response, json_error

log = logging.getLogger(__name__)

PREFIX = "/integrations/"
INTEGRATION_CACHE_SECONDS = 5.0
INTEGRATION_CACHE_MAX_ENTRIES = 10_000
# Commits in flight at once per process: one commits while the next group gathers.
GROUPS_IN_FLIGHT = 1
GROUP_MAX_ROWS = 500
GROUP_MAX_BYTES = 8 * 1024 * 1024
NOT_STORED = "internal error: the delivery was not stored; send it again"
# The middleware whose response-side effects a webhook answer shows (headers only).
RESPONSE_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)


_enabled: list[bool] = []  # cached: settings are slow to read on every request


def fast_path_enabled() -> bool:
    if not _enabled:
        _enabled.append(
            settings.IOC_WEBHOOK_FAST_PATH
            and settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        )
    return _enabled[0]


def token_in_path(path: str) -> str | None:
    """The token of /integrations/<token>/, "" for /integrations/ (header token), None for any
    other path. Django's `str` converter matches one non-empty segment without a slash."""
    if not path.startswith(PREFIX):
        return None
    rest = path[len(PREFIX) :]
    if not rest:
        return ""
    token = rest[:-1]
    if rest[-1] != "/" or not token or "/" in token:
        return None
    return token


class WebhookFastPath:
    """ASGI: the two webhook paths on PostgreSQL; everything else goes to `app` (Django)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not fast_path_enabled():
            return await self.app(scope, receive, send)
        path_token = token_in_path(scope["path"])
        if path_token is None or get_script_prefix(scope):
            return await self.app(scope, receive, send)
        body = await read_body(receive)
        if body is None:
            return None  # the client went away
        request = ASGIRequest(scope, io.BytesIO())
        try:
            request.get_host()
        except DisallowedHost:
            return await self.app(scope, replay(body, receive), send)
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return await self.app(scope, replay(body, receive), send)
        answer = await webhook_accept(request, body, path_token=path_token)
        if isinstance(answer, int):
            # The view's 202, without building a response object.
            body = json.dumps(accepted_body(answer)).encode()
            headers = [(b"Content-Type", b"application/json")]
            await send_answer(send, 202, headers, body, secure=request.is_secure())
        else:
            headers = [(k.encode("latin1"), v.encode("latin1")) for k, v in answer.items()]
            await send_answer(
                send, answer.status_code, headers, answer.content, secure=request.is_secure()
            )
        return None


async def read_body(receive) -> bytes | None:
    # Behind ioc.bodylimit the body arrives whole and within the limit, as one message.
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def webhook_accept(
    request: ASGIRequest, body: bytes, *, path_token: str
) -> int | HttpResponse:
    """The stored delivery's id, or the error views.integration_webhook(_authorized) answer,
    through the same checks."""
    state = loop_state()
    try:
        if path_token:
            found = await state.integrations.find(path_token)
            integration = integration_usable(found, unknown_status=404)
        else:
            found = await state.integrations.find(token_from_authorization(request.headers))
            integration = integration_usable(found, unknown_status=401)
        content_type = request.META.get("CONTENT_TYPE", "")
        signature_check(integration=integration, body=body, headers=request.headers)
        if sns_signed(integration):
            # The SNS check may fetch AWS's signing certificate: never on the event loop.
            await asyncio.to_thread(
                payload_check, integration=integration, body=body, content_type=content_type
            )
        else:
            payload_check(integration=integration, body=body, content_type=content_type)
        # As accept.delivery_store writes it; the rate limit is counted in the group.
        event = delivery_row(
            integration=integration,
            body=body,
            content_type=content_type,
            headers=request.headers,
        )
        delivery_id = await state.committer.store(integration, event, size=len(body))
    except BodyError as exc:
        return body_error_response(exc)
    except StoreFailed:
        return json_error(500, NOT_STORED)
    except Exception:
        # Where Django would answer its 500 page; senders retry either. Logged without the path.
        log.exception("a webhook delivery failed")
        return json_error(500, NOT_STORED)
    return delivery_id


# --- answers ------------------------------------------------------------------------------------

_middleware_headers_cache: dict[bool, list[tuple[bytes, bytes]]] = {}


def middleware_headers(secure: bool) -> list[tuple[bytes, bytes]]:
    """The headers Django's middleware adds to a webhook answer, taken from the middleware
    itself (security headers, X-Frame-Options) rather than restated here."""
    if secure not in _middleware_headers_cache:
        request = HttpRequest()
        request.is_secure = lambda: secure
        response = HttpResponse()
        del response["Content-Type"]
        for path in RESPONSE_MIDDLEWARE:
            if path in settings.MIDDLEWARE:
                import_string(path)(lambda request: response).process_response(request, response)
        if "django.contrib.sessions.middleware.SessionMiddleware" in settings.MIDDLEWARE:
            # Django's stack reads the session on the way, so its answers vary on the cookie.
            patch_vary_headers(response, ("Cookie",))
        _middleware_headers_cache[secure] = [
            (name.encode("latin1"), value.encode("latin1")) for name, value in response.items()
        ]
    return _middleware_headers_cache[secure]


async def send_answer(send, status: int, headers: list, body: bytes, *, secure: bool) -> None:
    headers += middleware_headers(secure)
    headers.append((b"Content-Length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- who is calling -----------------------------------------------------------------------------


def _find_in_thread(token: str) -> Integration | None:
    try:
        return integration_find_by_token(token=token)
    finally:
        # Give the thread's connection back to Django's pool.
        connections["default"].close()


class IntegrationCache:
    """accept.integration_find_by_token, remembered for a few seconds per token hash, with one
    lookup at a time per token (a burst on a cold cache makes one query, not hundreds)."""

    def __init__(self):
        self._found: dict[str, tuple[float, Integration]] = {}
        self._loading: dict[str, asyncio.Future] = {}

    async def find(self, token: str) -> Integration | None:
        key = token_hash(token)
        now = time.monotonic()
        cached = self._found.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(asyncio.to_thread(_find_in_thread, token))
            self._loading[key] = loading
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        integration = await asyncio.shield(loading)
        if integration is not None:
            self._remember(key, integration, now)
        return integration

    def _remember(self, key: str, integration: Integration, now: float) -> None:
        expires = now + INTEGRATION_CACHE_SECONDS
        if integration.token_hash != key and integration.previous_token_valid_until:
            # Found by its rotated-out token: not past the end of its grace period.
            left = (integration.previous_token_valid_until.timestamp()) - time.time()
            expires = min(expires, now + max(0.0, left))
        if len(self._found) >= INTEGRATION_CACHE_MAX_ENTRIES:
            self._found.clear()
        self._found[key] = (expires, integration)

    def clear(self) -> None:
        self._found.clear()


# --- group commit -------------------------------------------------------------------------------


class StoreFailed(Exception):
    """The delivery could not be stored (the database failed); nothing was accepted."""


@dataclass
class _Waiting:
    integration: Integration
    event: InboundEvent
    size: int
    answer: asyncio.Future = field(repr=False)

    def reply(self, outcome: int | BaseException) -> None:
        """Answer the request with its delivery id or an exception, unless it is gone: a request
        cancelled meanwhile (its client left, shutdown) has a cancelled future, and setting that
        raises InvalidStateError, which would fail the rest of its group."""
        if self.answer.done():
            return
        if isinstance(outcome, BaseException):
            self.answer.set_exception(outcome)
        else:
            self.answer.set_result(outcome)


def _rate_limits(integrations: list[Integration]) -> list[BodyError | None]:
    """accept.rate_limit_check for each delivery of a group, in order (run in a thread: with
    Redis it is a network call; after one fails, the limiter skips Redis for a few seconds, so a
    hung Redis delays a group by one timeout, not one per delivery)."""
    verdicts: list[BodyError | None] = []
    for integration in integrations:
        try:
            rate_limit_check(integration=integration)
        except BodyError as exc:
            verdicts.append(exc)
        else:
            verdicts.append(None)
    return verdicts


class GroupCommitter:
    """Stores deliveries in groups: whatever arrived while the previous commit was in flight goes
    into the next INSERT (one statement, one transaction), then each waiter is answered."""

    def __init__(self, state: "LoopState"):
        self.state = state
        self._waiting: list[_Waiting] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task] = set()
        self._kicking = False
        self._kick_again = False
        self.groups = 0
        self.rows = 0
        self.kicks = 0

    async def store(self, integration: Integration, event: InboundEvent, *, size: int) -> int:
        """The id of the committed delivery; BodyError when over the rate limit."""
        answer = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(integration, event, size, answer))
        if self._in_flight < GROUPS_IN_FLIGHT:
            self._start_group()
        return await answer

    def _start_group(self) -> None:
        count, size = 0, 0
        for waiting in self._waiting[:GROUP_MAX_ROWS]:
            if size >= GROUP_MAX_BYTES:
                break
            count, size = count + 1, size + waiting.size
        group, self._waiting = self._waiting[:count], self._waiting[count:]
        self._in_flight += 1
        self._spawn(self._commit_group(group))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _commit_group(self, group: list[_Waiting]) -> None:
        try:
            verdicts = await asyncio.to_thread(_rate_limits, [w.integration for w in group])
            accepted = []
            for waiting, refusal in zip(group, verdicts, strict=True):
                if refusal is None:
                    accepted.append(waiting)
                else:
                    waiting.reply(refusal)
            if accepted:
                await self._insert(accepted)
                self.groups += 1
                self.rows += len(accepted)
                self._kick()
        except Exception:
            log.exception("storing a group of %d webhook deliveries failed", len(group))
            for waiting in group:
                waiting.reply(StoreFailed())
        finally:
            self._in_flight -= 1
            if self._waiting:
                self._start_group()

    async def _insert(self, group: list[_Waiting]) -> None:
        pool = await self.state.pool()
        try:
            ids = await _insert_events(pool, [w.event for w in group])
        except (psycopg.DataError, psycopg.IntegrityError):
            if len(group) == 1:
                raise
            # One bad row must not refuse its neighbours: store them one by one.
            for waiting in group:
                try:
                    [delivery_id] = await _insert_events(pool, [waiting.event])
                except Exception:
                    log.exception("storing a webhook delivery failed")
                    waiting.reply(StoreFailed())
                else:
                    waiting.reply(delivery_id)
            return
        for waiting, delivery_id in zip(group, ids, strict=True):
            waiting.reply(delivery_id)

    def _kick(self) -> None:
        # One kick after each committed group; while one is being published, the groups
        # committed meanwhile are covered by one more kick after it.
        if self._kicking:
            self._kick_again = True
            return
        self._kicking = True
        self._spawn(self._kick_loop())

    async def _kick_loop(self) -> None:
        try:
            while True:
                self._kick_again = False
                self.kicks += 1
                await asyncio.to_thread(background.kick_processing)
                if not self._kick_again:
                    return
        except Exception:
            log.exception("kicking delivery processing failed; the sweep will pick them up")
        finally:
            self._kicking = False


_insert_sql_cache: list[str] = []


def _insert_fields():
    return [f for f in InboundEvent._meta.concrete_fields if not f.primary_key]


def insert_sql() -> str:
    """One INSERT for any number of deliveries, every column of the model, one array per
    column, as Django's bulk_create does on PostgreSQL (UNNEST), ids returned in row order. One
    statement text whatever the group's size, so psycopg parses it once."""
    if not _insert_sql_cache:
        database = connections["default"]
        quote = database.ops.quote_name
        fields = _insert_fields()
        columns = ", ".join(quote(f.column) for f in fields)
        # %b: arrays sent in binary, no text escaping (a tenth of the CPU, measured).
        arrays = ", ".join(f"(%b)::{f.db_type(database).split('(')[0]}[]" for f in fields)
        meta = InboundEvent._meta
        # Only quoted names from the model and placeholders: the values travel as parameters.
        _insert_sql_cache.append(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT * FROM UNNEST({arrays}) RETURNING {quote(meta.pk.column)}"
        )
    return _insert_sql_cache[0]


async def _insert_events(pool, events: list[InboundEvent]) -> list[int]:
    database = connections["default"]
    fields = _insert_fields()
    # What Django's INSERT compiler does with each value: pre_save (received_at), then the
    # database form (JSON for headers and result); then one list per column.
    columns = [
        [f.get_db_prep_save(f.pre_save(event, True), database) for event in events] for f in fields
    ]
    async with pool.connection() as conn:
        # One statement in autocommit is one transaction: when it returns, it is committed
        # (synchronous_commit), in one round trip instead of three (BEGIN, INSERT, COMMIT).
        cursor = await conn.execute(insert_sql(), columns)
        return [row[0] for row in await cursor.fetchall()]


# --- per event loop -----------------------------------------------------------------------------


class LoopState:
    """The pool, the committer and the integration cache of one event loop (one per worker
    process in production; one per live server in the tests)."""

    def __init__(self):
        self.integrations = IntegrationCache()
        self.committer = GroupCommitter(self)
        self._pool = None
        self._opening: asyncio.Future | None = None
        self.guard: asyncio.Task | None = None

    async def pool(self):
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.ensure_future(open_pool())
        pool = await asyncio.shield(self._opening)
        self._pool = pool
        return pool

    async def close(self) -> None:
        if self._opening is not None:
            try:
                pool = await self._opening
            except Exception:
                return
            self._pool = self._opening = None
            await pool.close()


async def open_pool():
    """psycopg's async pool, with the parameters and pool options Django uses for the default
    database (settings.DATABASES, read through Django's own backend)."""
    from psycopg import sql
    from psycopg_pool import AsyncConnectionPool

    database = connections["default"]
    kwargs = database.get_connection_params()
    kwargs.pop("cursor_factory", None)  # Django's sync cursor classes
    kwargs["autocommit"] = True  # each INSERT is its own transaction
    options = database.settings_dict["OPTIONS"].get("pool") or {}
    options = {} if options is True else dict(options)
    role = database.settings_dict["OPTIONS"].get("assume_role")

    async def configure(conn) -> None:
        if role:
            await conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

    pool = AsyncConnectionPool(
        kwargs=kwargs,
        configure=configure,
        open=False,
        name="ioc-webhook-fast-path",
        **options,
    )
    await pool.open()
    return pool


_states: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopState]" = (
    weakref.WeakKeyDictionary()
)


def loop_state() -> LoopState:
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is None:
        state = _states[loop] = LoopState()
        # Closes the pool when the loop is torn down (asyncio.run cancels what is left), for
        # servers run without the lifespan protocol, such as the tests' live server.
        state.guard = loop.create_task(_close_when_cancelled(state))
    return state


async def _close_when_cancelled(state: LoopState) -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await state.close()
        raise


async def lifespan(scope, receive, send):
    """ASGI lifespan: close this worker's pool on shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            state = _states.pop(asyncio.get_running_loop(), None)
            if state is not None:
                await state.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def stats() -> dict[str, int]:
    """Groups committed, rows stored and kicks sent by this process (for tests and benchmarks)."""
    states = list(_states.values())
    return {
        "groups": sum(s.committer.groups for s in states),
        "rows": sum(s.committer.rows for s in states),
        "kicks": sum(s.committer.kicks for s in states),
    }


def _forget_settings(**kwargs) -> None:
    _enabled.clear()
    _middleware_headers_cache.clear()
    _insert_sql_cache.clear()
    for state in list(_states.values()):
        state.integrations.clear()


setting_changed.connect(_forget_settings)
