"""What every source parser returns, and the errors it may raise.

Parsers are pure: `parse(payload, headers, *, config=None) -> list[ParsedAlert]`, where payload is
the decoded body (JSON object, or form fields for kinds that accept forms). They import nothing of
the project's models and never raise a bare KeyError: malformed input becomes a PayloadError with
a message a manager can act on.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NUMBER = re.compile(r"\d+(\.\d+)?")

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
        # Fit the columns here, once, rather than in every parser.
        if len(self.fingerprint) > 255:
            object.__setattr__(self, "fingerprint", stable_hash(self.fingerprint))
        for name, limit in (("name", 255), ("source", 255), ("service", 200)):
            value = getattr(self, name)
            if len(value) > limit:
                object.__setattr__(self, name, value[:limit])
        if not self.fingerprint:
            raise PayloadError("the alert has no identity (empty fingerprint)")
        if self.status not in STATUSES:
            raise PayloadError(f"status must be one of {', '.join(STATUSES)}", field="status")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise PayloadError(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")


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


class IgnoredPayload(Exception):
    """A well-formed delivery that carries no alert (a test ping, an unsubscribe notice)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SubscriptionConfirmation(Exception):
    """An AWS SNS subscription handshake: confirm it (during processing), open no incident."""

    def __init__(self, subscribe_url: str, topic_arn: str = ""):
        super().__init__(f"subscription confirmation for {topic_arn or 'a topic'}")
        self.subscribe_url = subscribe_url
        self.topic_arn = topic_arn


def severity_from(raw: Any, mapping: Mapping[str, str], labels: dict[str, str]) -> str | None:
    """Map a tool's severity through `mapping` (keys lower-case). A missing or unlisted value
    gives None (the integration's default applies) and keeps the raw value as `source_severity`."""
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    severity = mapping.get(text.lower())
    if severity is None:
        labels["source_severity"] = text[:100]
    return severity


def parse_time(value: Any) -> datetime | None:
    """A timestamp as tools send them: ISO 8601 with any number of fractional digits and `Z`,
    `+0000` or `+00:00` offsets, or epoch seconds / milliseconds (numbers or strings). Naive times
    are UTC. Zero times (`0001-01-01...`) and unreadable values give None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (
        isinstance(value, str) and NUMBER.fullmatch(value.strip())
    ):
        number = float(value)
        if number <= 0:
            return None
        if number > 1e11:  # milliseconds
            number /= 1000.0
        try:
            return datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Trim fractional seconds beyond microseconds (Go sends nanoseconds).
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    # +0000 -> +00:00
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.year <= 1:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def severity_mapping(defaults: Mapping[str, str], config: Mapping[str, Any] | None) -> dict:
    """The default mapping with the integration's `severity_map` laid over it. Keys are
    lower-cased because severity_from looks raw values up lower-cased."""
    overrides = config.get("severity_map") if isinstance(config, Mapping) else None
    if not isinstance(overrides, Mapping):
        return dict(defaults)
    return {
        **defaults,
        **{
            str(raw).strip().lower(): severity
            for raw, severity in overrides.items()
            if severity in SEVERITIES
        },
    }


def unique_urls(candidates: Iterable[str]) -> tuple[str, ...]:
    """The non-empty http(s) URLs, in order, each once."""
    urls = []
    for url in candidates:
        if url.startswith(("http://", "https://")) and url not in urls:
            urls.append(url)
    return tuple(urls)


def non_empty(**values: str) -> dict[str, str]:
    """The labels that have a value ."""
    return {key: value for key, value in values.items() if value}
