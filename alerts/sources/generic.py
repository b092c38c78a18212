"""Plain JSON from any tool or script, with an optional per-integration field mapping.

Body: {"summary", "severity", "source", "service", "name", "dedup_key", "status", "labels",
"description", "started_at", "ended_at"}; only `summary` is required. `source` is the affected
host. Without `dedup_key` the fingerprint is a hash of source, service and summary, so the same
problem repeated is one alert.

A tool nobody wrote a parser for is read through the integration's `config`:
`{"mapping": {"summary": "alert.title", "fingerprint": "alert.id", "status": "state", ...}}`
names, for each IOC field, a dotted path into its body (`a.b.0.c`: keys, and list indexes,
negative from the end); fields left out are read where the plain body has them.
`status_map` and `severity_map` translate the tool's words (`{"ok": "resolved"}`).
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .base import (
    SEVERITIES,
    STATUSES,
    ParsedAlert,
    PayloadError,
    as_labels,
    as_text,
    parse_time,
    severity_mapping,
    stable_hash,
)

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

# Where each IOC field is read from when the integration maps nothing.
DEFAULT_PATHS = {
    "summary": "summary",
    "severity": "severity",
    "status": "status",
    "fingerprint": "dedup_key",
    "service": "service",
    "source": "source",
    "name": "name",
    "description": "description",
    "labels": "labels",
    "started_at": "started_at",
    "ended_at": "ended_at",
}


def field_paths(config: Any) -> dict[str, str]:
    """The path of each field: the defaults with the integration's `mapping` laid over them.
    A broken mapping is a PayloadError naming the integration's config, not the body."""
    mapping = config.get("mapping") if isinstance(config, Mapping) else None
    if mapping is None:
        return dict(DEFAULT_PATHS)
    if not isinstance(mapping, Mapping):
        raise PayloadError("integration config: 'mapping' must be an object of field: path")
    unknown = sorted(str(key) for key in mapping if key not in DEFAULT_PATHS)
    if unknown:
        raise PayloadError(
            f"integration config: 'mapping' has unknown fields {', '.join(unknown)}; "
            f"known: {', '.join(DEFAULT_PATHS)}"
        )
    for field, path in mapping.items():
        if not isinstance(path, str) or not path.strip() or "" in path.split("."):
            raise PayloadError(
                f"integration config: the path of '{field}' must be dotted keys, like 'a.b.0'"
            )
    return {**DEFAULT_PATHS, **{field: path.strip() for field, path in mapping.items()}}


def resolve_path(payload: Any, path: str) -> Any:
    """The value at a dotted path (`alert.tags.0.name`), or None when any step is missing.
    A step into a list must be an index; negative indexes count from the end."""
    value = payload
    for step in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(value, list):
            try:
                value = value[int(step)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if value is None:
            return None
    return value


class _Reader:
    """Reads IOC fields from a body through the integration's paths. Errors about a mapped field
    name the IOC field and its path; the others name the body's key, as they always have."""

    def __init__(self, payload: Mapping, paths: Mapping[str, str]):
        self.payload = payload
        self.paths = paths

    def mapped(self, field: str) -> bool:
        return self.paths[field] != DEFAULT_PATHS[field]

    def raw(self, field: str) -> Any:
        return resolve_path(self.payload, self.paths[field])

    def where(self, field: str) -> str:
        path = self.paths[field]
        return f"'{field}' (mapped from '{path}')" if self.mapped(field) else f"'{path}'"

    def text(self, field: str, *, required: bool = False, max_length: int = 10_000) -> str:
        name = field if self.mapped(field) else self.paths[field]
        try:
            return as_text(self.raw(field), field=name, required=required, max_length=max_length)
        except PayloadError as exc:
            if not self.mapped(field):
                raise
            raise PayloadError(f"{exc} (mapped from '{self.paths[field]}')", field=field) from exc


def validate(payload: Any, *, config=None) -> None:
    """Checks made while the request is open: a JSON object with a summary where the mapping
    says. A broken mapping is left to processing, which keeps the delivery with the error: a
    configuration mistake must not make the tool drop its alerts."""
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    try:
        paths = field_paths(config)
    except PayloadError:
        return
    _Reader(payload, paths).text("summary", required=True)


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    read = _Reader(payload, field_paths(config))
    summary = read.text("summary", required=True, max_length=2000)
    source = read.text("source", max_length=255)
    service = read.text("service", max_length=200)
    labels = as_labels(read.raw("labels"))
    return [
        ParsedAlert(
            fingerprint=read.text("fingerprint", max_length=255)
            or stable_hash(source, service, summary),
            summary=summary,
            status=_status(read, config),
            severity=_severity(read, config, labels),
            name=read.text("name", max_length=255),
            description=read.text("description"),
            source=source,
            service=service,
            labels=labels,
            started_at=_time(read, "started_at"),
            ended_at=_time(read, "ended_at"),
        )
    ]


def _status(read: _Reader, config: Any) -> str:
    words = dict(STATUS_WORDS)
    overrides = config.get("status_map") if isinstance(config, Mapping) else None
    if isinstance(overrides, Mapping):
        words.update(
            {
                str(word).strip().lower(): status
                for word, status in overrides.items()
                if status in STATUSES
            }
        )
    raw = read.text("status").lower()
    if not raw:
        return "firing"
    status = words.get(raw)
    if status is None:
        raise PayloadError(
            f"{read.where('status')} is '{raw[:50]}': send 'firing' or 'resolved', "
            "or map the word in the integration's status_map",
            field="status",
        )
    return status


def _severity(read: _Reader, config: Any, labels: dict[str, str]) -> str | None:
    mapping = severity_mapping({severity: severity for severity in SEVERITIES}, config)
    raw = read.text("severity").lower()
    severity = mapping.get(raw)
    if raw and severity is None:
        # The integration's default applies; the tool's word stays visible.
        labels["source_severity"] = raw[:100]
    return severity


def _time(read: _Reader, field: str) -> datetime | None:
    # Unreadable times are dropped rather than refused: they only guard against stale resolves,
    # and without them a resolve simply applies.
    return parse_time(read.raw(field))
