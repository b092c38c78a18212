"""What every transport shares: the message, the error, the result, the retry policy and the one
HTTP client that decides which answers are worth another try.

Transports never sleep and never retry by themselves: a failed send becomes a `TransportError`
that says whether trying again could help, and the escalation engine stores the next attempt time
(`retry_delay`) on its own row. Every send carries the message's idempotency key, so a receiver
that got the first try after all can drop the repeat.
"""

import base64
import email.utils
import http.client
import random
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NoReturn
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "IOC"
# Receivers answer with a word or a small JSON document; nothing we read needs more.
MAX_RESPONSE_BYTES = 64 * 1024
# Worth another try: timeout, too early, too many requests (and every 5xx, below).
TRANSIENT_STATUSES = frozenset({408, 425, 429})
_KEY_ALLOWED = re.compile(r"[\x21-\x7e]+")


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"
    IN_APP = "in_app"


@dataclass(frozen=True, kw_only=True)
class Message:
    """One notification to one address: plain data, built by the engine from its own rows.

    `key` is the idempotency key: the same for every attempt at the same notification, so a
    receiver can drop a repeat. `address` is an email address, an E.164 phone number, a webhook
    URL or a user id, depending on `channel`.
    """

    key: str
    channel: str
    address: str
    subject: str = ""
    text: str = ""
    incident_number: int | None = None
    incident_url: str = ""
    severity: str = ""
    title: str = ""
    status: str = ""
    # Lets the in-app consumer re-check that the user may still see the incident.
    incident_id: int | None = None


class TransportError(Exception):
    """A send that did not happen. `permanent`: trying the same message again cannot help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after


@dataclass(frozen=True, kw_only=True)
class DeliveryResult:
    """What one attempt came to. `retry_after` is the receiver's Retry-After, in seconds."""

    ok: bool
    permanent: bool = False
    error: str = ""
    provider_id: str | None = None
    status_code: int | None = None
    retry_after: float | None = None


class Transport:
    """One channel. Its one job: send the message or raise `TransportError`.

    `notify` returns the receiver's id for the sent message when it gives one (a Twilio SID,
    the email Message-ID), else None.
    """

    channel: str = ""

    def notify(self, message: Message) -> str | None:
        raise NotImplementedError


# --- Retry policy -----------------------------------------------------------------------------


def retry_delay(attempt: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after failed attempt number `attempt` (1 is the first send).

    Doubles from IOC_NOTIFY_RETRY_BASE_SECONDS (30 s, 1 min, 2 min, 4 min, 8 min, then 10 to
    15 min) with ±20 % jitter, so pages that failed together do not all come back together, and
    never more than IOC_NOTIFY_RETRY_MAX_SECONDS (15 min). A receiver's Retry-After wins when it
    asks for a longer wait, up to the same cap: a page is never parked for hours.
    """
    base = float(settings.IOC_NOTIFY_RETRY_BASE_SECONDS)
    cap = float(settings.IOC_NOTIFY_RETRY_MAX_SECONDS)
    exponent = min(max(attempt - 1, 0), 30)  # 2**30 * 30 s is far past any cap
    # The nominal wait stops short of the cap so that the jitter still spreads capped retries.
    delay = min(cap / 1.2, base * 2**exponent) * random.uniform(0.8, 1.2)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, retry_after)
    return timedelta(seconds=min(delay, cap))


def should_retry(result: DeliveryResult, attempt: int) -> bool:
    """Whether a failed attempt number `attempt` earns another; False means record it as failed.

    After IOC_NOTIFY_MAX_ATTEMPTS attempts a transient failure counts as permanent.
    """
    if result.ok or result.permanent:
        return False
    return attempt < settings.IOC_NOTIFY_MAX_ATTEMPTS


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def check_key(key: str) -> None:
    """An idempotency key goes into an HTTP header and a Message-ID: printable ASCII only."""
    if not key or not _KEY_ALLOWED.fullmatch(key) or len(key) > 200:
        raise TransportError(
            "the idempotency key must be 1 to 200 printable ASCII characters without spaces",
            permanent=True,
        )


def one_line(text: str, limit: int = 200) -> str:
    """A receiver's words, fit for a timeline entry: one line, bounded."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline(message: Message) -> str:
    """`SEV2 #42: Database down`, or what the message has of it."""
    number = f"#{message.incident_number}" if message.incident_number is not None else ""
    title = one_line(message.title, 300)
    lead = " ".join(part for part in (message.severity, number) if part)
    if lead and title:
        return f"{lead}: {title}"
    return lead or title or one_line(message.subject, 300) or "IOC notification"


# --- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A webhook that moved must be updated, not followed: urllib would turn the POST into a GET.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect())


class HttpClient:
    """POSTs with a timeout, the idempotency key and no redirects, and classifies the answer.

    This is the one place that decides what is worth another try: 2xx is success; 408, 425, 429,
    5xx and network errors are transient (with the receiver's Retry-After); anything else (other
    4xx, a 3xx that was not followed) is permanent. An integration that knows better overrides
    `is_permanent` or, for a clearer timeline entry, `error_message`.
    """

    label = "endpoint"  # how errors name the receiver; never the URL, which may hold a secret

    def post(
        self,
        url: str,
        *,
        key: str,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        check_key(key)
        if not _is_http_url(url):
            raise TransportError(f"the {self.label} address is not an http(s) URL", permanent=True)
        request = urllib.request.Request(  # noqa: S310  (scheme checked just above)
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": content_type,
                "User-Agent": USER_AGENT,
                "Idempotency-Key": key,
                **(headers or {}),
            },
        )
        try:
            with _opener.open(request, timeout=settings.IOC_NOTIFY_HTTP_TIMEOUT) as response:
                answer = HttpResponse(
                    response.status, _lower(response.headers), response.read(MAX_RESPONSE_BYTES)
                )
        except urllib.error.HTTPError as exc:
            self.raise_for_response(HttpResponse(exc.code, _lower(exc.headers), _read(exc)))
        except (OSError, http.client.HTTPException) as exc:
            # Refused, reset, DNS, TLS or a timeout: the receiver may be back in a minute.
            raise TransportError(
                f"could not reach the {self.label}: {_reason(exc)}", permanent=False
            ) from exc
        if not 200 <= answer.status < 300:
            self.raise_for_response(answer)
        return answer

    def is_permanent(self, response: HttpResponse) -> bool:
        status = response.status
        return not (status in TRANSIENT_STATUSES or 500 <= status < 600)

    def error_message(self, response: HttpResponse) -> str:
        detail = one_line(response.text())
        message = f"the {self.label} answered HTTP {response.status}"
        if 300 <= response.status < 400:
            return f"{message} (a redirect, not followed: update the address)"
        return f"{message}: {detail}" if detail else message

    def raise_for_response(self, response: HttpResponse) -> NoReturn:
        raise TransportError(
            self.error_message(response),
            permanent=self.is_permanent(response),
            status_code=response.status,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class HttpTransport(HttpClient, Transport):
    """A transport that POSTs to a URL: Slack, Microsoft Teams, generic webhooks."""


def _is_http_url(url: str) -> bool:
    if not url.isprintable() or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in (headers or {}).items()}


def _read(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read(MAX_RESPONSE_BYTES)
    except (OSError, http.client.HTTPException):
        return b""


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, TimeoutError):
        return "timed out"
    return one_line(str(reason)) or type(reason).__name__
