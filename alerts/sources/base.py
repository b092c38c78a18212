"""What every source parser returns, and the errors it may raise.

Parsers are pure: `parse(payload, headers, *, config=None) -> list[ParsedAlert]`, where payload is
the decoded body (JSON object, or form fields for kinds that accept forms). They import nothing of
the project's models and never raise a bare KeyError: malformed input becomes a PayloadError with
a message a manager can act on.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITIES = ("critical", "high", "warning", "info")
STATUSES = ("firing", "acknowledged", "resolved")


class PayloadError(ValueError):
    """The payload cannot be turned into alerts. `field` names the offending field, if one."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ParsedAlert:
    fingerprint: str
    summary: str
    status: str = "firing"
    # None when the tool sent no severity, or one not in the mapping: the integration's default
    # applies and the raw value is kept as the label `source_severity`.
    severity: str | None = None
    name: str = ""
    description: str = ""
    source: str = ""
    service: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    links: tuple[str, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise PayloadError(f"status must be one of {', '.join(STATUSES)}", field="status")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise PayloadError(
                f"severity must be one of {', '.join(SEVERITIES)}", field="severity"
            )


def stable_hash(*parts: Any) -> str:
    """A fingerprint from parts, stable across processes and releases."""
    joined = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def as_text(value: Any, *, field: str, required: bool = False, max_length: int = 10_000) -> str:
    """A scalar as a string; objects and lists are refused with the field named."""
    if value is None:
        if required:
            raise PayloadError(f"'{field}' is required", field=field)
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        text = str(value).strip()
    else:
        raise PayloadError(f"'{field}' must be a string", field=field)
    if required and not text:
        raise PayloadError(f"'{field}' must not be empty", field=field)
    return text[:max_length]


def as_labels(value: Any, *, field: str = "labels") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PayloadError(f"'{field}' must be an object of strings", field=field)
    return {
        str(key)[:200]: as_text(item, field=f"{field}.{key}", max_length=2000)
        for key, item in value.items()
        if item is not None and not isinstance(item, Mapping | list)
    }
