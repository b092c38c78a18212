"""Plain JSON from any tool or script.

Body: {"summary", "severity", "source", "service", "name", "dedup_key", "status", "labels"};
only `summary` is required. `source` is the affected host. Without `dedup_key` the fingerprint is
a hash of source, service and summary, so the same problem repeated is one alert.
"""

from collections.abc import Mapping
from typing import Any

from .base import SEVERITIES, ParsedAlert, PayloadError, as_labels, as_text, stable_hash

CONTENT_TYPES = ("application/json",)

STATUS_WORDS = {
    "firing": "firing",
    "trigger": "firing",
    "triggered": "firing",
    "problem": "firing",
    "resolved": "resolved",
    "resolve": "resolved",
    "ok": "resolved",
    "recovered": "resolved",
}


def validate(payload: Any) -> None:
    """Checks made while the request is open: only what needs no parsing beyond JSON."""
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    as_text(payload.get("summary"), field="summary", required=True)


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    validate(payload)
    summary = as_text(payload.get("summary"), field="summary", required=True, max_length=2000)
    source = as_text(payload.get("source"), field="source", max_length=255)
    service = as_text(payload.get("service"), field="service", max_length=200)
    labels = as_labels(payload.get("labels"))

    raw_status = as_text(payload.get("status"), field="status").lower() or "firing"
    status = STATUS_WORDS.get(raw_status)
    if status is None:
        raise PayloadError("'status' must be 'firing' or 'resolved'", field="status")

    raw_severity = as_text(payload.get("severity"), field="severity").lower()
    severity = raw_severity if raw_severity in SEVERITIES else None
    if raw_severity and severity is None:
        labels["source_severity"] = raw_severity

    dedup_key = as_text(payload.get("dedup_key"), field="dedup_key", max_length=255)
    return [
        ParsedAlert(
            fingerprint=dedup_key or stable_hash(source, service, summary),
            summary=summary,
            status=status,
            severity=severity,
            name=as_text(payload.get("name"), field="name", max_length=255),
            description=as_text(payload.get("description"), field="description"),
            source=source,
            service=service,
            labels=labels,
        )
    ]
