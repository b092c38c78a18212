"""Zabbix, through the webhook media type IOC publishes (docs/sources/zabbix.md).

Every parameter arrives as a string. A recovery is its own event with its own id, so the
fingerprint is the trigger id, which problem and recovery share. The simpler community shape
({"hostname", "severity", "status", "item", "trigger", "link"}) is read too; its trigger id is in
the link's query string.
"""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import (
    ParsedAlert,
    PayloadError,
    as_text,
    parse_time,
    severity_from,
    severity_mapping,
    stable_hash,
)

CONTENT_TYPES = ("application/json",)

SEVERITY_MAP = {
    "disaster": "critical",
    "high": "high",
    "average": "warning",
    "warning": "warning",
    "information": "info",
    "not classified": "info",
    # {EVENT.NSEVERITY}: still right when an admin has renamed the severities.
    "5": "critical",
    "4": "high",
    "3": "warning",
    "2": "warning",
    "1": "info",
    "0": "info",
}

# Zabbix leaves a macro it cannot expand in place ({EVENT.RECOVERY.ID} in a problem message), or
# writes *UNKNOWN*; either means "no value".
UNEXPANDED = re.compile(r"\{[$#]?[A-Z][A-Z0-9_.]*(:[^}]*)?\}|\*UNKNOWN\*")

PARAMETERS = (
    "event_id",
    "event_name",
    "event_value",
    "event_status",
    "event_severity",
    "event_nseverity",
    "event_opdata",
    "event_tags",
    "event_recovery_id",
    "event_date",
    "event_time",
    "trigger_id",
    "trigger_name",
    "host_name",
    "host_ip",
    "host_groups",
    "item_name",
    "item_value",
    "item_key",
    "zabbix_url",
)

# The parameters worth keeping as labels; names, tags and the URL are used elsewhere.
LABEL_FIELDS = (
    "event_id",
    "event_recovery_id",
    "event_status",
    "event_opdata",
    "trigger_id",
    "host_ip",
    "host_groups",
    "item_key",
    "item_value",
)

STATUS_WORDS = {"problem": "firing", "resolved": "resolved", "ok": "resolved"}


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object of the media type's parameters")
    mapping = severity_mapping(SEVERITY_MAP, config)
    if "trigger_id" in payload or "event_value" in payload:
        return [_parse_media_type(payload, mapping)]
    if "trigger" in payload and "status" in payload:
        return [_parse_community(payload, mapping)]
    raise PayloadError(
        "not a Zabbix media type body: 'trigger_id' and 'event_value' are missing; "
        "set up the media type from IOC's Zabbix guide"
    )


def _parse_media_type(payload: Mapping[str, Any], mapping: Mapping[str, str]) -> ParsedAlert:
    fields = {name: _value(payload, name) for name in PARAMETERS}
    trigger_id = fields["trigger_id"]
    if not trigger_id:
        raise PayloadError(
            "'trigger_id' is empty: set the media type parameter trigger_id to {TRIGGER.ID}",
            field="trigger_id",
        )
    status = _status(fields["event_value"], fields["event_status"], fields["event_recovery_id"])

    tags = _tags(fields["event_tags"])
    labels = {**tags, **{name: fields[name] for name in LABEL_FIELDS if fields[name]}}
    # The number still maps when an admin has renamed the severities.
    word, number = fields["event_severity"], fields["event_nseverity"]
    renamed = word.lower() not in mapping and number.lower() in mapping
    severity = severity_from(number if renamed else word or number, mapping, labels)

    name = fields["trigger_name"] or fields["event_name"] or f"Zabbix trigger {trigger_id}"
    # {EVENT.DATE} is yyyy.mm.dd in the Zabbix server's time zone, read here as UTC.
    started_at = None
    if fields["event_date"]:
        started_at = parse_time(f"{fields['event_date'].replace('.', '-')} {fields['event_time']}")
    links = ()
    if fields["zabbix_url"].startswith(("https://", "http://")) and fields["event_id"]:
        base = fields["zabbix_url"].rstrip("/")
        links = (f"{base}/tr_events.php?triggerid={trigger_id}&eventid={fields['event_id']}",)
    return ParsedAlert(
        fingerprint=f"trigger:{trigger_id}",
        summary=fields["event_name"] or name,
        status=status,
        severity=severity,
        name=name,
        description=_description(fields),
        source=fields["host_name"],
        service=tags.get("service", ""),
        labels=labels,
        links=links,
        started_at=started_at,
    )


def _parse_community(payload: Mapping[str, Any], mapping: Mapping[str, str]) -> ParsedAlert:
    trigger = as_text(payload.get("trigger"), field="trigger", required=True, max_length=1000)
    host = as_text(payload.get("hostname"), field="hostname", max_length=255)
    link = as_text(payload.get("link"), field="link", max_length=2000)
    raw_status = as_text(payload.get("status"), field="status").lower()
    status = STATUS_WORDS.get(raw_status)
    if status is None:
        raise PayloadError("'status' must be PROBLEM, RESOLVED or OK", field="status")

    query = parse_qs(urlsplit(link).query)
    trigger_id = (query.get("triggerid") or [""])[0]
    labels = {"trigger_id": trigger_id, "event_id": (query.get("eventid") or [""])[0]}
    labels = {key: value for key, value in labels.items() if value}
    item = as_text(payload.get("item"), field="item", max_length=1000)
    if item:
        labels["item"] = item
    severity = severity_from(as_text(payload.get("severity"), field="severity"), mapping, labels)
    # Without a link the trigger name is all there is, and it may change on recovery.
    fingerprint = f"trigger:{trigger_id}" if trigger_id else stable_hash(host, trigger)
    return ParsedAlert(
        fingerprint=fingerprint,
        summary=trigger,
        status=status,
        severity=severity,
        name=trigger,
        description=f"Item: {item}" if item else "",
        source=host,
        labels=labels,
        links=(link,) if link.startswith(("https://", "http://")) else (),
    )


def _value(payload: Mapping[str, Any], name: str) -> str:
    text = as_text(payload.get(name), field=name, max_length=2000)
    return "" if UNEXPANDED.fullmatch(text) else text


def _status(event_value: str, event_status: str, recovery_id: str) -> str:
    if event_value == "1":
        return "firing"
    if event_value == "0" or recovery_id:
        return "resolved"
    status = STATUS_WORDS.get(event_status.lower())
    if status is None:
        raise PayloadError(
            "'event_value' must be 1 (problem) or 0 (recovery): set it to {EVENT.VALUE}",
            field="event_value",
        )
    return status


def _tags(event_tags: str) -> dict[str, str]:
    """{EVENT.TAGS} renders as `name:value, name:value`; a tag may have no value."""
    tags: dict[str, str] = {}
    for item in event_tags.split(","):
        key, _, value = item.partition(":")
        if key.strip():
            tags[key.strip()[:200]] = value.strip()
    return tags


def _description(fields: Mapping[str, str]) -> str:
    lines = []
    if fields["event_opdata"]:
        lines.append(f"Operational data: {fields['event_opdata']}")
    if fields["item_name"]:
        item = f"Item: {fields['item_name']}"
        if fields["item_key"]:
            item += f" ({fields['item_key']})"
        if fields["item_value"]:
            item += f" = {fields['item_value']}"
        lines.append(item)
    if fields["host_groups"]:
        lines.append(f"Host groups: {fields['host_groups']}")
    return "\n".join(lines)
