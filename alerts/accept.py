"""Accepting a delivery: authenticate, check limits, one INSERT of the raw body, commit, 202.

Nothing else happens inside the request: processing (ingest.py) runs after commit.
"""

from collections.abc import Mapping

from django.conf import settings
from django.db import transaction

from ioc import background

from . import sns
from .models import InboundEvent, Integration
from .payloads import BodyError, check_media_type, decode_body, redact_headers
from .sources import PayloadError, source_for_kind
from .tokens import token_hash


def integration_find_by_token(*, token: str) -> Integration | None:
    if not token or len(token) > 200:
        return None
    return Integration.objects.select_related("team").filter(token_hash=token_hash(token)).first()


def delivery_accept(
    *, integration: Integration, body: bytes, content_type: str, headers: Mapping[str, str]
) -> InboundEvent:
    """Store a delivery durably and queue its processing. Raises BodyError for what is refused."""
    if len(body) > settings.IOC_WEBHOOK_MAX_BYTES:
        raise BodyError(413, f"body larger than {settings.IOC_WEBHOOK_MAX_BYTES} bytes")
    source = source_for_kind(integration.kind)
    check_media_type(content_type, source.CONTENT_TYPES)
    payload = decode_body(body, content_type)
    validate = getattr(source, "validate", None)
    if validate is not None:
        try:
            validate(payload)
        except PayloadError as exc:
            raise BodyError(400, str(exc), field=exc.field) from exc
    if integration.kind == "cloudwatch":
        try:
            sns.sns_verify(payload)
        except sns.SignatureError as exc:
            raise BodyError(401, f"SNS signature check failed: {exc}") from exc
    with transaction.atomic():
        event = InboundEvent.objects.create(
            integration=integration,
            content_type=content_type[:200],
            headers=redact_headers(headers),
            body=body.decode("utf-8"),
        )
        transaction.on_commit(background.kick_processing)
    return event


