"""Datadog monitors, through the Webhooks integration.

The body is whatever payload template the user wrote; IOC publishes one (docs/sources/datadog.md)
and also reads Datadog's default payload and common variants. Every value arrives as a string,
dates in epoch milliseconds. The transition is in `alert_transition` or the title's prefix
("[Triggered on {host:web-1}] ..."). A monitor alerts per group (host, scope), so the fingerprint
is the monitor id plus the group, identical for Triggered and Recovered.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from .base import (
    ParsedAlert,
    PayloadError,
    as_text,
    parse_time,
    severity_from,
    severity_mapping,
    stable_hash,
)

CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")

SEVERITY_MAP = {
    "p1": "critical",
    "p2": "high",
    "p3": "warning",
    "p4": "info",
    "p5": "info",
    # $ALERT_TYPE, used when the monitor has no priority.
    "error": "high",
    "warning": "warning",
    "info": "info",
    "success": "info",
}

# "[P2] [Re-Triggered on {host:web-1,env:prod}] Disk almost full" -> priority, transition, scope.
TITLE_PREFIX = re.compile(r"\s*\[(?P<word>[^\]{]*?)(?: on \{(?P<scope>[^}]*)\})?\]\s*")
PRIORITY = re.compile(r"P[1-5]", re.IGNORECASE)
# Triggered, Re-Triggered, Warn, Re-Warn, No Data, Recovered, Renotify: a user's own
# "[staging]" in a monitor name is not one of these and stays in the name.
TRANSITION_WORD = re.compile(r".*(trigger|warn|no data|recover|notif).*", re.IGNORECASE)
MONITOR_LINK = re.compile(r"/monitors[#/](\d+)")
# A variable Datadog left unrendered ("$ALERT_PRIORITY") carries no value.
UNRENDERED = re.compile(r"\$[A-Z][A-Z0-9_.]*")

# Keys other templates use for the same variable, first match wins.
KEYS = {
    "event_title": ("title", "event_title"),
    "transition": ("alert_transition", "transition"),
    "monitor_id": ("alert_id", "monitor_id"),
    "group": ("aggreg_key", "aggregate", "aggregation_key", "alert_scope", "scope"),
    "priority": ("alert_priority", "priority"),
    "body": ("body", "event_msg", "text_only_msg", "message"),
    "date": ("date", "date_posix", "last_updated"),
    "event_id": ("id", "event_id"),
}

# Kept as labels under these names, read through KEYS where other templates differ.
LABEL_KEYS = (
    "alert_type",
    "alert_metric",
    "alert_scope",
    "alert_cycle_key",
    "event_type",
    "event_id",
    "hostname",
    "org_id",
)


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object (or form fields) of the payload")
    field = _reader(payload)
    # $EVENT_TITLE carries the transition, scope and priority; $ALERT_TITLE may not.
    prefixes, name = _split_title(field("event_title"))
    alert_prefixes, alert_name = _split_title(field("alert_title"))
    prefixes = {**alert_prefixes, **prefixes}
    name = alert_name or name
    monitor_id = field("monitor_id") or _monitor_from_links(field("body"), field("link"))
    if not name and not monitor_id:
        raise PayloadError(
            'neither a title nor an alert id: the payload needs "title": "$EVENT_TITLE" '
            'or "alert_id": "$ALERT_ID"',
            field="title",
        )
    name = name or f"Datadog monitor {monitor_id}"

    tags = _tags(field("tags"), field("event_tags"))
    transition = field("transition") or prefixes.get("transition", "")
    priority = field("priority") or prefixes.get("priority", "")
    labels = {key: field(key) for key in LABEL_KEYS}
    labels.update(alert_id=monitor_id, alert_transition=transition, alert_priority=priority)
    labels = {**tags, **{key: value for key, value in labels.items() if value}}

    alert_type = field("alert_type").lower()
    status = _status(transition, alert_type)
    mapping = severity_mapping(SEVERITY_MAP, config)
    raw_severity = priority if priority.lower() in mapping or not alert_type else alert_type
    severity = severity_from(raw_severity, mapping, labels)

    scope = prefixes.get("scope", "")
    source = field("hostname") or _host_in(scope) or tags.get("host", "")
    group = field("group") or scope or source
    when = parse_time(field("date"))
    link = field("link") or field("url")
    return [
        ParsedAlert(
            fingerprint=stable_hash(monitor_id or name, group),
            summary=field("alert_status") or name,
            status=status,
            severity=severity,
            name=name,
            description=_markdown(field("body")),
            source=source,
            service=field("service") or tags.get("service", ""),
            labels=labels,
            links=(link,) if link.startswith(("https://", "http://")) else (),
            started_at=when if status == "firing" else None,
            ended_at=when if status == "resolved" else None,
        )
    ]


def _reader(payload: Mapping[str, Any]) -> Callable[[str], str]:
    """A lookup by IOC's name for a value, trying the keys other templates use."""
    flat = dict(payload)
    org = payload.get("org")
    if isinstance(org, Mapping):  # the default payload nests {"org": {"id", "name"}}
        flat.setdefault("org_id", org.get("id"))

    def field(name: str) -> str:
        for key in KEYS.get(name, (name,)):
            text = as_text(flat.get(key), field=key)
            if text and not UNRENDERED.fullmatch(text):
                return text
        return ""

    return field


def _split_title(title: str) -> tuple[dict[str, str], str]:
    """The title without its bracketed prefixes, and what they said."""
    prefixes: dict[str, str] = {}
    rest = title
    while match := TITLE_PREFIX.match(rest):
        word = match["word"].strip()
        if PRIORITY.fullmatch(word):
            prefixes["priority"] = word.upper()
        elif TRANSITION_WORD.fullmatch(word) and "transition" not in prefixes:
            prefixes["transition"] = word
            if match["scope"]:
                prefixes["scope"] = match["scope"].strip()
        else:
            break
        rest = rest[match.end() :]
    return prefixes, rest.strip()


def _status(transition: str, alert_type: str) -> str:
    """Triggered, Re-Triggered, Warn, No Data and renotifications fire; Recovered resolves."""
    word = transition.lower()
    if "recover" in word or (not word and alert_type == "success"):
        return "resolved"
    return "firing"


def _monitor_from_links(*texts: str) -> str:
    for text in texts:
        if match := MONITOR_LINK.search(text):
            return match[1]
    return ""


def _tags(*tag_lists: str) -> dict[str, str]:
    """$TAGS is `key:value, key:value, bare`; a key seen twice keeps all its values."""
    tags: dict[str, str] = {}
    for tag_list in tag_lists:
        for item in tag_list.split(","):
            key, _, value = item.strip().partition(":")
            if not key or not value:
                continue
            key = key[:200]
            if key not in tags:
                tags[key] = value
            elif value not in tags[key].split(","):
                tags[key] += f",{value}"
    return tags


def _host_in(scope: str) -> str:
    for item in scope.split(","):
        key, _, value = item.strip().partition(":")
        if key == "host":
            return value
    return ""


def _markdown(body: str) -> str:
    """Datadog wraps the message in %%% markers."""
    return body.strip().removeprefix("%%%").removesuffix("%%%").strip()
