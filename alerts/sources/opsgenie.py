"""Opsgenie Alert API v2: the create-alert body, and the close and acknowledge calls.

`message` is the only required field. `alias` is Opsgenie's dedup key and becomes the
fingerprint, so a later close or acknowledge by alias finds the alert; without an alias the
fingerprint is a hash of message, entity and source. Opsgenie's `entity` names what is affected
(IOC's source); its `source` names the sending tool and is kept as the label `opsgenie_source`.
Responders, visibleTo and actions are Opsgenie routing and are not used: IOC routes by itself.
"""

from collections.abc import Mapping
from typing import Any

from .base import (
    ParsedAlert,
    PayloadError,
    as_labels,
    as_text,
    severity_from,
    severity_mapping,
    stable_hash,
)

CONTENT_TYPES = ("application/json",)

SEVERITY_MAP = {"p1": "critical", "p2": "high", "p3": "warning", "p4": "info", "p5": "info"}
DEFAULT_PRIORITY = "P3"  # what Opsgenie itself assigns when the body has none
# Who closed or acknowledged, and why: kept as labels, as Opsgenie keeps them on the alert log.
ACTION_FIELDS = {"user": "opsgenie_user", "source": "opsgenie_source", "note": "opsgenie_note"}


# IOC's Opsgenie-style close and acknowledge endpoints store their calls as deliveries with these
# headers, so that processing (which only sees the stored delivery) knows what was asked.
ACTION_HEADER = "x-ioc-opsgenie-action"
ALIAS_HEADER = "x-ioc-opsgenie-alias"


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    lowered = {str(key).lower(): value for key, value in headers.items()}
    action = lowered.get(ACTION_HEADER)
    if action == "close":
        return parse_close(lowered.get(ALIAS_HEADER), payload)
    if action == "acknowledge":
        return parse_acknowledge(lowered.get(ALIAS_HEADER), payload)
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    message = as_text(payload.get("message"), field="message", required=True, max_length=2000)
    alias = as_text(payload.get("alias"), field="alias")
    entity = as_text(payload.get("entity"), field="entity", max_length=255)
    tags = _tags(payload.get("tags"))
    details = as_labels(payload.get("details"), field="details")

    labels = {**details, **_action_labels(payload)}
    if tags:
        labels["tags"] = ", ".join(tags)
    priority = as_text(payload.get("priority"), field="priority") or DEFAULT_PRIORITY
    labels["priority"] = priority
    severity = severity_from(priority, severity_mapping(SEVERITY_MAP, config), labels)
    fingerprint = alias or stable_hash(message, entity, labels.get("opsgenie_source", ""))
    return [
        ParsedAlert(
            fingerprint=fingerprint,
            summary=message,
            status="firing",
            severity=severity,
            name=message,
            description=as_text(payload.get("description"), field="description", max_length=15000),
            source=entity,
            service=details.get("service") or _service_from_tags(tags),
            labels=labels,
        )
    ]


def parse_close(alias: Any, body: Any) -> list[ParsedAlert]:
    """POST /v2/alerts/<alias>/close?identifierType=alias: resolves the alert with that alias."""
    return [_action(alias, body, "resolved")]


def parse_acknowledge(alias: Any, body: Any) -> list[ParsedAlert]:
    """POST /v2/alerts/<alias>/acknowledge?identifierType=alias."""
    return [_action(alias, body, "acknowledged")]


def _action(alias: Any, body: Any, status: str) -> ParsedAlert:
    key = as_text(alias, field="alias", required=True)
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise PayloadError("the body must be a JSON object")
    return ParsedAlert(fingerprint=key, summary=key, status=status, labels=_action_labels(body))


def _action_labels(body: Mapping[str, Any]) -> dict[str, str]:
    labels = {}
    for key, label in ACTION_FIELDS.items():
        value = as_text(body.get(key), field=key, max_length=2000)
        if value:
            labels[label] = value
    return labels


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError("'tags' must be a list of strings", field="tags")
    tags = (as_text(tag, field=f"tags[{index}]", max_length=200) for index, tag in enumerate(value))
    return [tag for tag in tags if tag]


def _service_from_tags(tags: list[str]) -> str:
    """A tag `service:<name>` or `service=<name>` names the service."""
    for tag in tags:
        for separator in (":", "="):
            key, found, name = tag.partition(separator)
            if found and key.strip().lower() == "service" and name.strip():
                return name.strip()
    return ""
