"""Accepting a delivery: authenticate, check limits, one INSERT of the raw body, commit, 202.

Nothing else happens inside the request: processing (ingest.py) runs after commit. Each check
raises BodyError with the status to answer, so the endpoints (views.py) stay thin and every
refusal stores nothing.
"""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ioc import background

from . import sns
from .models import InboundEvent, Integration
from .payloads import BodyError, check_media_type, decode_body, redact_body, redact_headers
from .ratelimit import rate_limit_retry_after
from .sources import PayloadError, source_for_kind
from .tokens import token_hash

GRAFANA_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"


class RateLimited(BodyError):
    def __init__(self, retry_after: int):
        super().__init__(
            503, f"rate limit exceeded; retry after {retry_after} s", retry_after=retry_after
        )


# --- who is calling ------------------------------------------------------------------------------


def integration_find_by_token(*, token: str) -> Integration | None:
    """The integration of a token, or of a rotated-out token still in its grace period."""
    if not token or len(token) > 200:
        return None
    hashed = token_hash(token)
    return (
        Integration.objects.select_related("team")
        .filter(
            Q(token_hash=hashed)
            | Q(previous_token_hash=hashed, previous_token_valid_until__gt=timezone.now())
        )
        .first()
    )


def token_from_authorization(headers: Mapping[str, str]) -> str:
    """The token in `Authorization: Bearer <token>`, `GenieKey <token>`, or basic auth with the
    token as password (what Alertmanager and Grafana can send)."""
    value = headers.get("Authorization", "").strip()
    scheme, _, credentials = value.partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme in {"bearer", "token", "geniekey"}:
        return credentials
    if scheme == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def integration_usable(integration: Integration | None, *, unknown_status: int) -> Integration:
    if integration is None:
        message = "unknown integration token"
        raise BodyError(unknown_status, message)
    if not integration.enabled:
        raise BodyError(403, "this integration is disabled")
    return integration


# --- checks ---------------------------------------------------------------------------------------


def signature_check(*, integration: Integration, body: bytes, headers: Mapping[str, str]) -> None:
    """The optional HMAC-SHA256 check configured on the integration (`config`):
    `hmac_secret`, `hmac_header` (default X-Grafana-Alerting-Signature) and, to refuse replays,
    `hmac_timestamp_header`: then the signed text is `<timestamp>:<body>`, as Grafana signs it."""
    config = integration.config if isinstance(integration.config, Mapping) else {}
    secret = config.get("hmac_secret")
    if not secret:
        return
    header = config.get("hmac_header") or GRAFANA_SIGNATURE_HEADER
    given = headers.get(header, "").strip().removeprefix("sha256=").lower()
    if not given:
        raise BodyError(401, f"missing signature header {header}")
    signed = body
    timestamp_header = config.get("hmac_timestamp_header")
    if timestamp_header:
        stamp = headers.get(timestamp_header, "").strip()
        try:
            age = abs(time.time() - float(stamp))
        except ValueError:
            raise BodyError(
                401, f"missing or invalid timestamp header {timestamp_header}"
            ) from None
        if age > settings.IOC_WEBHOOK_SIGNATURE_MAX_AGE:
            raise BodyError(401, "stale timestamp: the request is refused as a possible replay")
        signed = stamp.encode() + b":" + body
    expected = hmac.new(str(secret).encode(), signed, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str (a 500, which senders
    # retry forever). "replace" cannot make a match: the expected value is hex digits.
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise BodyError(401, "signature does not match")


def rate_limit_check(*, integration: Integration) -> None:
    retry_after = rate_limit_retry_after(
        integration_id=integration.pk, limit_per_minute=integration.rate_limit_per_minute
    )
    if retry_after is not None:
        raise RateLimited(retry_after)


def sns_signed(integration: Integration) -> bool:
    """Whether the integration's deliveries come through AWS SNS, whose signature payload_check
    verifies: that may fetch AWS's signing certificate, a network call."""
    return integration.kind == "cloudwatch"


def payload_check(*, integration: Integration, body: bytes, content_type: str):
    """Size, media type, JSON or form decoding, and the few checks a source makes at the door."""
    if len(body) > settings.IOC_WEBHOOK_MAX_BYTES:
        raise BodyError(413, f"body larger than {settings.IOC_WEBHOOK_MAX_BYTES} bytes")
    source = source_for_kind(integration.kind)
    check_media_type(content_type, source.CONTENT_TYPES)
    payload = decode_body(body, content_type)
    validate = getattr(source, "validate", None)
    if validate is not None:
        try:
            validate(payload, config=integration.config)
        except PayloadError as exc:
            raise BodyError(400, str(exc), field=exc.field) from exc
    if sns_signed(integration):
        try:
            sns.sns_verify(payload)
        except sns.CertificateUnavailable as exc:
            # Our side could not fetch AWS's certificate: SNS retries a 5xx, never a 4xx.
            raise BodyError(
                503, f"cannot check the SNS signature now: {exc}", retry_after=30
            ) from exc
        except sns.SignatureError as exc:
            raise BodyError(401, f"SNS signature check failed: {exc}") from exc
    return payload


# --- accept ---------------------------------------------------------------------------------------


def delivery_row(
    *, integration: Integration, body: bytes, content_type: str, headers: Mapping[str, str]
) -> InboundEvent:
    """The delivery as it is stored (unsaved): credentials redacted from headers and body."""
    return InboundEvent(
        integration=integration,
        content_type=content_type[:200],
        headers=redact_headers(headers),
        body=redact_body(body.decode("utf-8")),
    )


def delivery_store(
    *, integration: Integration, body: bytes, content_type: str, headers: Mapping[str, str]
) -> InboundEvent:
    """The durable part: one INSERT, committed before the caller answers; then kick processing."""
    with transaction.atomic():
        event = delivery_row(
            integration=integration, body=body, content_type=content_type, headers=headers
        )
        event.save()
        transaction.on_commit(background.kick_processing)
    return event


def delivery_accept(
    *, integration: Integration, body: bytes, content_type: str, headers: Mapping[str, str]
) -> InboundEvent:
    """Every check, then store. Raises BodyError (RateLimited for the rate limit)."""
    signature_check(integration=integration, body=body, headers=headers)
    payload_check(integration=integration, body=body, content_type=content_type)
    rate_limit_check(integration=integration)
    return delivery_store(
        integration=integration, body=body, content_type=content_type, headers=headers
    )
