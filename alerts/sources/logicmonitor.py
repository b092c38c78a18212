"""LogicMonitor Custom HTTP Delivery, with the body template published in
docs/sources/logicmonitor.md.

LogicMonitor sends whatever template the admin pastes, each `##TOKEN##` rendered as a string.
IOC's template names the fields `alertid`, `alertStatus` (active, ack, clear; also update and
test), `level` (warning, error, critical), `host`, `hostgroup`, `datasource`, `instance`,
`datapoint`, `value`, `threshold`, `start`, `startepoch`, `duration`, `message`, `service`; the
snake_case names of other vendors' templates (`alert_id`, `alert_status`, `error_level`...) are
read too. `##ALERTID##` stays the same for an alert's active, ack and clear deliveries, so it is
the fingerprint. A token LogicMonitor left unrendered counts as empty.
"""

import re
from collections.abc import Mapping
from typing import Any

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

SEVERITY = {"critical": "critical", "error": "high", "warning": "warning", "warn": "warning"}

STATUSES = {
    "active": "firing",
    # An escalation or repeat notice for an alert still active.
    "update": "firing",
    "ack": "acknowledged",
    "acknowledged": "acknowledged",
    "clear": "resolved",
    "cleared": "resolved",
}

# Each field under IOC's name, then the names other templates use for the same token.
FIELDS = {
    "alertid": ("alertid", "alert_id", "alertId"),
    "status": ("alertStatus", "alert_status", "alertstatus"),
    "level": ("level", "error_level", "alert_level"),
    "alerttype": ("alerttype", "alert_type", "alertType"),
    "host": ("host", "hostname"),
    "hostgroup": ("hostgroup", "host_group", "group"),
    "datasource": ("datasource", "data_source"),
    "instance": ("instance",),
    "datapoint": ("datapoint", "data_point"),
    "value": ("value",),
    "threshold": ("threshold",),
    "start": ("start",),
    "startepoch": ("startepoch", "start_epoch"),
    "duration": ("duration",),
    "message": ("message", "detail"),
    "service": ("service",),
    "url": ("url", "device_url", "service_url"),
}

TOKEN = re.compile(r"^##[A-Za-z0-9_.\-]+##$")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    fields = {name: _field(payload, keys) for name, keys in FIELDS.items()}
    for name in ("alertid", "status"):
        if not fields[name]:
            _refuse_unrendered(payload, FIELDS[name])

    alert_id = fields["alertid"]
    if not alert_id:
        raise PayloadError(
            "'alertid' is required: use the body template in IOC's LogicMonitor guide",
            field="alertid",
        )
    raw_status = fields["status"].lower()
    if raw_status == "test":
        raise IgnoredPayload("test delivery")
    if raw_status not in STATUSES:
        raise PayloadError("'alertStatus' must be active, ack or clear", field="alertStatus")
    status = STATUSES[raw_status]

    labels = non_empty(
        alert_type=fields["alerttype"],
        host_group=fields["hostgroup"],
        datasource=fields["datasource"],
        instance=fields["instance"],
        datapoint=fields["datapoint"],
        value=fields["value"],
        threshold=fields["threshold"],
        duration=fields["duration"],
        start=fields["start"],
    )
    severity = severity_from(fields["level"], severity_mapping(SEVERITY, config), labels)
    # The name says what is in alert, without the value, so it stays the same from active to
    # clear. ##DATASOURCE## already names the instance ("WinVolumeUsage-C:\").
    what = (fields["datasource"] or fields["instance"], fields["datapoint"])
    name = " ".join(part for part in what if part) or fields["alerttype"] or f"alert {alert_id}"
    at = parse_time(fields["startepoch"])
    url = fields["url"]
    return [
        ParsedAlert(
            fingerprint=alert_id[:255],
            summary=(fields["message"].split("\n", 1)[0] or name)[:2000],
            status=status,
            severity=severity,
            name=name,
            description=fields["message"],
            source=fields["host"],
            service=fields["service"],
            labels=labels,
            links=(url,) if url.startswith(("http://", "https://")) else (),
            started_at=at,
        )
    ]


def _field(payload: Mapping, keys: tuple[str, ...]) -> str:
    """The first of `keys` with a rendered value; an unrendered `##TOKEN##` counts as empty."""
    for key in keys:
        text = as_text(payload.get(key), field=key)
        if text and not TOKEN.match(text):
            return text
    return ""


def _refuse_unrendered(payload: Mapping, keys: tuple[str, ...]) -> None:
    """A body whose alert id or status is still `##...##` is the template itself (pasted into a
    test tool, or a delivery LogicMonitor could not render): say so rather than "missing"."""
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and TOKEN.match(value.strip()):
            raise PayloadError(
                f"the LogicMonitor template was not rendered: '{key}' is still {value.strip()}; "
                "send a real alert (or the integration's Test) rather than the template itself",
                field=key,
            )
