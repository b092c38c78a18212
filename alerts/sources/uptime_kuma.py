"""Uptime Kuma's Webhook notification.

Body: {"heartbeat": {"monitorID", "status", "time", "msg", ...}, "monitor": {"id", "name", "url",
"hostname", "tags", ...}, "msg"}. `heartbeat.status` is 0 down, 1 up, 2 pending, 3 maintenance.
The "Test" button sends `heartbeat` and `monitor` as null. Kuma's form mode sends the same JSON in
one field, `data` (or `payload`); older query-style bodies send `heartbeat` and `monitor` as JSON
strings. Kuma has no severity: a monitor tag named `severity` gives one, else the integration's
default applies.
"""

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .base import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    as_text,
    non_empty,
    parse_time,
    severity_from,
    severity_mapping,
)

CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")

SEVERITY = {name: name for name in ("critical", "high", "warning", "info")}

DOWN, UP, PENDING, MAINTENANCE = 0, 1, 2, 3
FORM_FIELDS = ("data", "payload")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    body = _unwrap(payload)
    heartbeat, monitor = body.get("heartbeat"), body.get("monitor")
    if heartbeat is None and monitor is None:
        raise IgnoredPayload("test notification")
    if heartbeat is None:
        # Certificate-expiry and similar notices name a monitor but report no status change.
        raise IgnoredPayload("notice without a heartbeat (no status change)")
    if not isinstance(heartbeat, Mapping):
        raise PayloadError("'heartbeat' must be an object", field="heartbeat")
    if monitor is not None and not isinstance(monitor, Mapping):
        raise PayloadError("'monitor' must be an object", field="monitor")
    monitor = monitor or {}

    code = _status_code(heartbeat.get("status"))
    if code == PENDING:
        raise IgnoredPayload("pending: the monitor is retrying before it reports down")
    if code == MAINTENANCE:
        raise IgnoredPayload("maintenance")
    if code not in (DOWN, UP):
        raise PayloadError("'heartbeat.status' must be 0, 1, 2 or 3", field="heartbeat.status")
    status = "firing" if code == DOWN else "resolved"

    monitor_id = as_text(
        monitor.get("id") if monitor.get("id") is not None else heartbeat.get("monitorID"),
        field="monitor.id",
        required=True,
    )
    labels = _tags(monitor.get("tags"))
    by_name = {name.lower(): value for name, value in labels.items()}
    severity = severity_from(by_name.get("severity"), severity_mapping(SEVERITY, config), labels)
    url = as_text(monitor.get("url"), field="monitor.url")
    if url in ("https://", "http://"):  # Kuma's placeholder on non-HTTP monitors
        url = ""
    source = as_text(monitor.get("hostname"), field="monitor.hostname") or _host(url)
    name = as_text(monitor.get("name"), field="monitor.name", max_length=255)
    detail = as_text(heartbeat.get("msg"), field="heartbeat.msg")
    labels.update(
        non_empty(
            monitor_id=monitor_id,
            monitor_type=as_text(monitor.get("type"), field="monitor.type"),
            url=url,
        )
    )
    at = parse_time(heartbeat.get("time"))
    summary = as_text(body.get("msg"), field="msg", max_length=2000)
    return [
        ParsedAlert(
            fingerprint=f"monitor:{monitor_id}",
            summary=summary or detail[:2000] or name or f"monitor {monitor_id}",
            status=status,
            severity=severity,
            name=name,
            description=detail,
            source=source,
            service=by_name.get("service", ""),
            labels=labels,
            links=(url,) if url.startswith(("http://", "https://")) else (),
            started_at=at if status == "firing" else None,
            ended_at=at if status == "resolved" else None,
        )
    ]


def _unwrap(payload: Any) -> Mapping:
    """The webhook JSON, from a JSON body or from form fields."""
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    if not any(key in payload for key in ("heartbeat", "monitor", "msg")):
        field = next((f for f in FORM_FIELDS if isinstance(payload.get(f), str)), None)
        if field is None:
            raise PayloadError(
                "not an Uptime Kuma webhook: expected 'heartbeat', 'monitor' and 'msg', or a form "
                "field 'data' holding them as JSON"
            )
        payload = _json_field(payload[field], field)
        if not isinstance(payload, Mapping):
            raise PayloadError(f"form field '{field}' must hold a JSON object", field=field)
    # Query-style bodies carry the two objects as JSON text.
    return {
        key: _json_field(value, key)
        if key in ("heartbeat", "monitor") and isinstance(value, str)
        else value
        for key, value in payload.items()
    }


def _json_field(text: str, field: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError as exc:
        raise PayloadError(f"'{field}' is not valid JSON: {exc}", field=field) from exc


def _status_code(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise PayloadError(
        "'heartbeat.status' must be a number (0 down, 1 up)", field="heartbeat.status"
    )


def _tags(value: Any) -> dict[str, str]:
    """Monitor tags: a list of {"name", "value"}; a tag without a value is kept as ''."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise PayloadError("'monitor.tags' must be a list", field="monitor.tags")
    tags: dict[str, str] = {}
    for tag in value:
        if not isinstance(tag, Mapping):
            raise PayloadError("'monitor.tags' must be a list of objects", field="monitor.tags")
        name = as_text(tag.get("name"), field="monitor.tags.name", max_length=200)
        if name:
            tags[name] = as_text(tag.get("value"), field="monitor.tags.value")
    return tags


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
