"""Which alerts a silence, maintenance window or inhibit rule keeps from paging, and why: pure
functions of plain data, no database (alerts/suppression.py loads the data and applies them).

- A `Silencer` is a silence (a span) or a maintenance window (an `alerts.windows.WindowSpec`)
  with compiled matchers; `first_silencer` gives the reason of the first one open and matching.
- An `InhibitContext` holds the enabled inhibit rules and, per rule, the firing alerts that
  match its source matchers, indexed by their `equal` label values; `inhibition_for` checks a
  target against it in one lookup per rule.
- The `*_errors` functions are the checks every way of writing these shares (services, admin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .matchers import CompiledMatchers, MatcherError, compile_matchers
from .windows import WindowSpec, occurrence_at, window_errors

REASON_LENGTH = 500  # Alert.suppression_reason
COMMENT_IN_REASON = 200
# An alert with nothing set: matchers that match it would silence almost everything.
_EMPTY_ALERT: Mapping[str, Any] = {"labels": {}}


# --- silences and windows as plain data ---------------------------------------------------


@dataclass(frozen=True)
class Silencer:
    """An active-or-soon silence or maintenance window, compiled for the batch path."""

    kind: str  # "silence" | "window"
    pk: int
    label: str  # the silence's comment, the window's name
    matchers: CompiledMatchers
    created_by: str = ""
    starts_at: datetime | None = None  # a silence's span
    ends_at: datetime | None = None
    window: WindowSpec | None = None
    # A window's occurrences closing at or before this were handled: they silence nothing more.
    handled_until: datetime | None = None

    def open_until(self, at: datetime) -> datetime | None:
        """When the span silencing at `at` ends; None when it does not silence then."""
        if self.window is None:
            assert self.starts_at is not None and self.ends_at is not None
            return self.ends_at if self.starts_at <= at < self.ends_at else None
        occurrence = occurrence_at(self.window, at)
        if occurrence is None:
            return None
        if self.handled_until is not None and occurrence[1] <= self.handled_until:
            return None
        return occurrence[1]

    def reason(self, *, at: datetime, until: datetime) -> str:
        if self.kind == "window":
            assert self.window is not None
            text = f"maintenance window {self.label} until {_clock(until, at, self.window)}"
        else:
            comment = " ".join(self.label.split())
            if len(comment) > COMMENT_IN_REASON:
                comment = comment[: COMMENT_IN_REASON - 1] + "…"
            text = f"silenced by {comment} until {_clock(until, at, None)}"
            if self.created_by:
                text += f" by {self.created_by}"
        return text[:REASON_LENGTH]


def _clock(until: datetime, at: datetime, window: WindowSpec | None) -> str:
    """ "14:00 UTC" (same day) or "2025-06-02 14:00 UTC"; a window's end in its own zone."""
    zone_name = window.time_zone if window is not None else "UTC"
    zone = ZoneInfo(zone_name)
    local, today = until.astimezone(zone), at.astimezone(zone).date()
    shown = local.strftime("%H:%M" if local.date() == today else "%Y-%m-%d %H:%M")
    return f"{shown} {zone_name}"


def first_silencer(
    specs: Iterable[Silencer], fields: Mapping[str, Any], at: datetime
) -> str | None:
    """The reason of the first silencer that is open at `at` and matches; None if none does."""
    for spec in specs:
        # The matchers first: a few comparisons, where a window's occurrence walks days in its
        # time zone. Both are pure, so the order changes nothing but the cost.
        if not spec.matchers.matches(fields):
            continue
        until = spec.open_until(at)
        if until is not None:
            return spec.reason(at=at, until=until)
    return None


# --- inhibit rules as plain data ----------------------------------------------------------


@dataclass(frozen=True)
class InhibitSpec:
    pk: int
    name: str
    source: CompiledMatchers
    target: CompiledMatchers
    equal: tuple[str, ...]  # label names


@dataclass(frozen=True)
class FiringSource:
    key: tuple[int, str] | None  # (integration id, fingerprint)
    fields: Mapping[str, Any]

    @property
    def title(self) -> str:
        return str(self.fields.get("name") or self.fields.get("summary") or "an alert")


@dataclass
class InhibitContext:
    """The enabled rules and, per rule, the firing alerts matching its source matchers, indexed
    by their values of the rule's `equal` labels: one dict lookup per rule and target."""

    rules: tuple[InhibitSpec, ...] = ()
    sources: dict[int, dict[tuple[str, ...], list[FiringSource]]] = field(default_factory=dict)

    def add(self, *, fields: Mapping[str, Any], key: tuple[int, str] | None = None) -> None:
        """Count an alert that started firing in this batch as a source for the next ones."""
        for rule in self.rules:
            if rule.source.matches(fields):
                by_values = self.sources.setdefault(rule.pk, {})
                by_values.setdefault(_equal_values(fields, rule.equal), []).append(
                    FiringSource(key=key, fields=fields)
                )


def label_name(name: str) -> str:
    """`cluster` from `cluster` or `labels.cluster`."""
    return name.removeprefix("labels.")


def _equal_values(fields: Mapping[str, Any], equal: tuple[str, ...]) -> tuple[str, ...]:
    # A missing label and an empty one are the same, as in Alertmanager: two alerts both
    # without `cluster` are "equal" on it; one with and one without are not.
    labels = fields.get("labels") or {}
    return tuple(str(labels.get(name) or "") for name in equal)


def inhibit_context_build(
    rules: Iterable[InhibitSpec], firing: Iterable[tuple[tuple[int, str] | None, Mapping]]
) -> InhibitContext:
    """Pure: the context from compiled rules and (key, fields) of the firing alerts."""
    context = InhibitContext(rules=tuple(rules))
    for key, fields in firing:
        context.add(fields=fields, key=key)
    return context


def inhibition_for(
    *,
    fields: Mapping[str, Any],
    firing_sources: InhibitContext,
    key: tuple[int, str] | None = None,
) -> str | None:
    """Why the alert is inhibited (a rule whose target it matches has a firing source with the
    same `equal` labels), or None. An alert never inhibits itself: a source with the same `key`
    (integration id, fingerprint) or, without a key, the same fields is skipped."""
    for rule in firing_sources.rules:
        if not rule.target.matches(fields):
            continue
        candidates = firing_sources.sources.get(rule.pk, {}).get(_equal_values(fields, rule.equal))
        for source in candidates or ():
            if (key is not None and source.key == key) or source.fields == fields:
                continue
            return f"inhibited by rule {rule.name}: {source.title} is firing"[:REASON_LENGTH]
    return None


# --- validation (pure) --------------------------------------------------------------------


def matchers_error(raw: Any, *, silencing: bool = False) -> str | None:
    """Why a matcher list cannot be stored; None when it can. Empty lists are refused (they
    match every alert); so are silencing matchers that also match an alert with nothing set."""
    try:
        compiled = compile_matchers(raw)
    except MatcherError as exc:
        return str(exc)
    if not compiled.matchers:
        return "add at least one matcher: an empty list matches every alert"
    if silencing and compiled.matches(_EMPTY_ALERT):
        return (
            "these matchers also match an alert with no fields at all, so they would silence "
            "almost everything: add one that needs a value (e.g. labels.env = prod)"
        )
    return None


def silence_errors(
    *, matchers: Any, starts_at: datetime, ends_at: datetime, comment: str, now: datetime
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if error := matchers_error(matchers, silencing=True):
        errors["matchers"] = error
    if not (comment or "").strip():
        errors["comment"] = "say why: the comment is required"
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        errors["ends_at"] = "times need a time zone (an instant, e.g. ending in Z)"
    elif ends_at <= starts_at:
        errors["ends_at"] = "the end must be after the start"
    elif ends_at <= now:
        errors["ends_at"] = "the end is in the past: such a silence would silence nothing"
    return errors


def maintenance_window_errors(
    *, name: str, matchers: Any, reason: str, spec: WindowSpec
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = "the name is required"
    if error := matchers_error(matchers, silencing=True):
        errors["matchers"] = error
    if not (reason or "").strip():
        errors["reason"] = "say why: the reason is required"
    errors.update(window_errors(spec))
    return errors


def inhibit_rule_errors(
    *, name: str, source_matchers: Any, target_matchers: Any, equal: Any
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = "the name is required"
    if error := matchers_error(source_matchers):
        errors["source_matchers"] = error
    if error := matchers_error(target_matchers):
        errors["target_matchers"] = error
    if not isinstance(equal, list | tuple) or not all(
        isinstance(label, str) and label_name(label.strip()) for label in equal
    ):
        errors["equal"] = 'a list of label names, e.g. ["cluster"]'
    return errors
