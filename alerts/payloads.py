"""Decoding and checking raw bodies: the checks that need no parser (shared by accept, process)."""

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings


class BodyError(ValueError):
    """A body refused at the door. `status` is the HTTP status to answer."""

    def __init__(
        self, status: int, message: str, *, field: str | None = None, retry_after: int | None = None
    ):
        super().__init__(message)
        self.status = status
        self.field = field
        self.retry_after = retry_after


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_json_media_type(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def check_media_type(content_type: str, accepted: tuple[str, ...]) -> str:
    media = media_type(content_type)
    if media in accepted or ("application/json" in accepted and is_json_media_type(media)):
        return media
    shown = media or "none"
    raise BodyError(415, f"content type {shown} is not accepted here; send {', '.join(accepted)}")


def _check_structure(value: Any, max_depth: int) -> None:
    """Refuse nesting deeper than max_depth and NUL characters anywhere, without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BodyError(400, "NUL characters (\\u0000) are not accepted")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise BodyError(400, f"JSON nested deeper than {max_depth} levels")
            children = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for key, child in children:
                if key is not None and "\x00" in key:
                    raise BodyError(400, "NUL characters (\\u0000) are not accepted")
                stack.append((child, depth + 1))


def decode_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"body is not valid UTF-8 (byte {exc.start})") from exc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise BodyError(400, "body is empty; send a JSON object")
    try:
        payload = json.loads(text)
    except RecursionError as exc:
        raise BodyError(400, "JSON nested too deeply") from exc
    except ValueError as exc:
        raise BodyError(400, f"invalid JSON: {exc}") from exc
    _check_structure(payload, settings.IOC_WEBHOOK_MAX_DEPTH)
    return payload


FORM = "application/x-www-form-urlencoded"
FORM_MAX_FIELDS = 1000


def decode_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"body is not valid UTF-8 (byte {exc.start})") from exc
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=FORM_MAX_FIELDS)
    except ValueError as exc:  # parse_qsl's only ValueError here: too many fields
        raise BodyError(400, f"the form body has more than {FORM_MAX_FIELDS} fields") from exc
    fields = dict(pairs)
    _check_structure(fields, settings.IOC_WEBHOOK_MAX_DEPTH)
    if not fields:
        raise BodyError(400, "the form body is empty")
    return fields


def decode_body(body: bytes, content_type: str) -> Any:
    """The payload a parser receives: a JSON object, or the fields of a form body."""
    if media_type(content_type) == FORM:
        return decode_form(body)
    payload = decode_json(body)
    if not isinstance(payload, Mapping):
        raise BodyError(400, "the body must be a JSON object")
    return payload


SENSITIVE_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}
# Credentials some tools put in the body itself (PagerDuty's routing_key is the integration
# token): the stored copy keeps the body as sent, with only the value blanked.
SENSITIVE_BODY_KEY = re.compile(r'("routing_key"\s*:\s*")(?:[^"\\]|\\.)*(")')


def redact_body(text: str) -> str:
    return SENSITIVE_BODY_KEY.sub(r"\1[redacted]\2", text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: ("[redacted]" if name.lower() in SENSITIVE_HEADERS else value)
        for name, value in headers.items()
    }
