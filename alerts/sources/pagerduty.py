"""PagerDuty Events API v2 (the body a tool POSTs to /v2/enqueue).

`event_action` trigger / acknowledge / resolve gives the status; `dedup_key` is the fingerprint.
Acknowledge and resolve carry only the dedup_key. A trigger may come without one (PagerDuty then
makes one up); the fingerprint is then a hash of where and what, so repeats are one alert.
`routing_key` is the credential: it is never kept.

`validate_event` answers what PagerDuty would refuse, for the /v2/enqueue endpoint; `parse` is
more lenient, since a body posted to the integration URL is authenticated by the URL.
"""

import json
from collections.abc import Mapping
from typing import Any

from .base import (
    ParsedAlert,
    PayloadError,
    as_text,
    parse_time,
    severity_from,
    severity_mapping,
    stable_hash,
    unique_urls,
)

CONTENT_TYPES = ("application/json",)

SEVERITY_MAP = {"critical": "critical", "error": "high", "warning": "warning", "info": "info"}
STATUSES = {"trigger": "firing", "acknowledge": "acknowledged", "resolve": "resolved"}
# Payload fields kept as labels, as PagerDuty shows them on the alert.
LABEL_FIELDS = ("component", "group", "class")


def validate_event(payload: Any) -> list[str]:
    """PagerDuty's own complaints about an event, worded as PagerDuty words them; empty if the
    event would be accepted."""
    if not isinstance(payload, Mapping):
        return ["Event object must be a JSON object"]
    errors = []
    if not _is_filled(payload.get("routing_key")):
        errors.append("'routing_key' is missing or blank")
    action = payload.get("event_action")
    if not _is_filled(action):
        errors.append("'event_action' is missing or blank")
    elif action not in STATUSES:
        errors.append("'event_action' is invalid")
    dedup_key = payload.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
    elif isinstance(dedup_key, str) and len(dedup_key) > 255:
        errors.append("'dedup_key' is too long (maximum 255 characters)")
    if action in ("acknowledge", "resolve") and not _is_filled(dedup_key):
        errors.append("'dedup_key' is missing")
    if action == "trigger":
        errors.extend(_payload_errors(payload.get("payload")))
    return errors


def _payload_errors(body: Any) -> list[str]:
    if not isinstance(body, Mapping):
        return ["'payload' is missing or invalid"]
    errors = [
        f"'payload.{key}' is missing"
        for key in ("summary", "source", "severity")
        if not _is_filled(body.get(key))
    ]
    if _is_filled(body.get("severity")) and body["severity"] not in SEVERITY_MAP:
        errors.append("'payload.severity' is invalid")
    return errors


def _is_filled(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    if "event_action" not in payload and "event_type" in payload:
        raise PayloadError(
            "this is an Events API v1 body ('event_type'); send Events API v2 events "
            "('event_action', 'payload')",
            field="event_action",
        )
    action = as_text(payload.get("event_action"), field="event_action", required=True).lower()
    status = STATUSES.get(action)
    if status is None:
        raise PayloadError(
            "'event_action' must be trigger, acknowledge or resolve", field="event_action"
        )
    dedup_key = as_text(payload.get("dedup_key"), field="dedup_key")
    if status == "firing":
        return [_trigger(payload, dedup_key, severity_mapping(SEVERITY_MAP, config))]
    if not dedup_key:
        raise PayloadError(f"'dedup_key' is required to {action} an alert", field="dedup_key")
    return [ParsedAlert(fingerprint=dedup_key, summary=dedup_key, status=status)]


def _trigger(event: Mapping[str, Any], dedup_key: str, mapping: Mapping[str, str]) -> ParsedAlert:
    body = event.get("payload")
    if not isinstance(body, Mapping):
        raise PayloadError("a trigger needs a 'payload' object", field="payload")
    summary = as_text(body.get("summary"), field="payload.summary", required=True)
    source = as_text(body.get("source"), field="payload.source", max_length=255)
    labels = {}
    details = body.get("custom_details")
    if isinstance(details, Mapping):
        # Strings and numbers become labels; nested objects only show in the description.
        labels.update(
            (str(key)[:200], as_text(value, field=f"payload.custom_details.{key}", max_length=2000))
            for key, value in details.items()
            if value is not None and not isinstance(value, Mapping | list)
        )
    for key in LABEL_FIELDS:
        value = as_text(body.get(key), field=f"payload.{key}", max_length=2000)
        if value:
            labels[key] = value
    client = as_text(event.get("client"), field="client", max_length=2000)
    if client:
        labels["client"] = client
    severity = severity_from(body.get("severity"), mapping, labels)
    # Without a dedup key PagerDuty would invent a key per event; IOC folds repeats of one
    # problem together.
    fingerprint = dedup_key or stable_hash(source, labels.get("component", ""), summary)
    return ParsedAlert(
        fingerprint=fingerprint,
        summary=summary[:2000],
        status="firing",
        severity=severity,
        name=labels.get("class") or summary,
        description=_details_text(details),
        source=source,
        service=labels.get("service", ""),  # only custom_details has a `service`
        labels=labels,
        links=_links(event),
        started_at=parse_time(body.get("timestamp")),
    )


def _details_text(details: Any) -> str:
    """custom_details as PagerDuty shows them: one `key: value` line each."""
    if details is None:
        return ""
    if not isinstance(details, Mapping):
        return details if isinstance(details, str) else json.dumps(details, ensure_ascii=False)
    return "\n".join(
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in details.items()
    )


def _links(event: Mapping[str, Any]) -> tuple[str, ...]:
    urls = []
    for key, url_field in (("links", "href"), ("images", "src")):
        items = event.get(key) or []
        if not isinstance(items, list):
            raise PayloadError(f"'{key}' must be a list of objects", field=key)
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise PayloadError(f"'{key}[{index}]' must be an object", field=key)
            urls.append(as_text(item.get(url_field), field=f"{key}[{index}].{url_field}"))
    urls.append(as_text(event.get("client_url"), field="client_url"))
    return unique_urls(urls)
