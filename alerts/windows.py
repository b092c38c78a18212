"""When a maintenance window is open: pure functions of plain data, no database.

A window is either one-off (`starts_at` to `ends_at`, two instants) or weekly: on each of its
`weekdays` (0 = Monday) it opens at the local wall-clock `start_time` in its named `time_zone`
and stays open for `duration_minutes` real minutes.

Daylight-saving changes, exactly:

- The start keeps its local time: a window at 22:00 in Europe/Berlin opens at 22:00 on the
  clock in winter and in summer (21:00 UTC, then 20:00 UTC).
- The length is real minutes, not wall-clock: a 120-minute window from 01:30 on the
  spring-forward night (Berlin, last Sunday of March) ends at 04:30 on the clock, two real hours
  later; on the fall-back night it ends at 02:30 on the clock, also two real hours later.
- A start that does not exist (02:30 on a spring-forward night) opens at the same instant one
  hour later on the clock (03:30); a start that exists twice (02:30 on a fall-back night) opens
  at the first of the two. The same rules as on-call hand-offs (teams/schedules.py).

Occurrences that overlap or touch (a duration longer than the gap to the next weekday) are
merged into one: the window only ends when none of them is open, so the end of a window is
always an instant when matching alerts stop being silenced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from teams.schedules import time_zone_error

# One week: longer weekly windows would overlap themselves and never end.
MAX_DURATION_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class WindowSpec:
    """A maintenance window as plain data. One-off when `starts_at` is set, weekly otherwise."""

    time_zone: str = "UTC"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    weekdays: frozenset[int] = field(default_factory=frozenset)
    start_time: time | None = None
    duration_minutes: int = 0

    @property
    def is_one_off(self) -> bool:
        return self.starts_at is not None or self.ends_at is not None

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


class WindowError(ValueError):
    """A spec that cannot be computed; window_errors says what is wrong with it."""


def window_errors(spec: WindowSpec) -> dict[str, str]:
    """What is wrong with the spec, by field; empty when it is usable."""
    errors: dict[str, str] = {}
    if error := time_zone_error(spec.time_zone):
        errors["time_zone"] = error
    if spec.is_one_off:
        if spec.starts_at is None:
            errors["starts_at"] = "a one-off window needs a start"
        if spec.ends_at is None:
            errors["ends_at"] = "a one-off window needs an end"
        for name in ("starts_at", "ends_at"):
            value = getattr(spec, name)
            if value is not None and value.tzinfo is None:
                errors[name] = f"{name} needs a time zone (an instant, e.g. ending in Z)"
        if not errors and spec.ends_at <= spec.starts_at:
            errors["ends_at"] = "the end must be after the start"
        if spec.weekdays or spec.start_time is not None:
            errors["weekdays"] = "a window is either one-off (start and end) or weekly, not both"
        return errors
    if not spec.weekdays:
        errors["weekdays"] = "a weekly window needs at least one weekday (0 = Monday … 6 = Sunday)"
    elif any(not isinstance(day, int) or not 0 <= day <= 6 for day in spec.weekdays):
        errors["weekdays"] = "weekdays are numbers from 0 (Monday) to 6 (Sunday)"
    if spec.start_time is None:
        errors["start_time"] = "a weekly window needs a local start time"
    if not 0 < spec.duration_minutes <= MAX_DURATION_MINUTES:
        errors["duration_minutes"] = f"the duration is 1 to {MAX_DURATION_MINUTES} minutes"
    return errors


def _check(spec: WindowSpec) -> None:
    if errors := window_errors(spec):
        raise WindowError("; ".join(f"{name}: {message}" for name, message in errors.items()))


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise WindowError("times must be aware (carry a time zone)")
    return value.astimezone(UTC)


def _local_start(day: date, start_time: time, zone: ZoneInfo) -> datetime:
    # fold=0: a skipped time maps to the instant an hour later on the clock, a repeated one to
    # its first occurrence (see the module docstring).
    naive = datetime.combine(day, start_time.replace(tzinfo=None))
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _weekly(spec: WindowSpec, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    zone = ZoneInfo(spec.time_zone)
    assert spec.start_time is not None
    # An occurrence that opened up to `duration` before `start` may still be open, and merged
    # with the ones of the week before; one more day each side covers the zone's UTC offset.
    lookback = spec.duration + timedelta(days=7)
    first = (start - lookback).astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found = []
    day = first
    while day <= last:
        if day.weekday() in spec.weekdays:
            opens = _local_start(day, spec.start_time, zone)
            found.append((opens, opens + spec.duration))
        day += timedelta(days=1)
    return found


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in sorted(spans):
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def occurrences(
    spec: WindowSpec, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The times the window is open that overlap [start, end), as (opens, closes) in UTC, in
    order. An occurrence open at `start` is included whole (it may open before `start`)."""
    _check(spec)
    start, end = _utc(start), _utc(end)
    if end <= start:
        return []
    if spec.is_one_off:
        assert spec.starts_at is not None and spec.ends_at is not None
        spans = [(_utc(spec.starts_at), _utc(spec.ends_at))]
    else:
        spans = _merged(_weekly(spec, start, end))
    return [(opens, closes) for opens, closes in spans if opens < end and closes > start]


def occurrence_at(spec: WindowSpec, at: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence open at `at` (opens <= at < closes), if any."""
    at = _utc(at)
    for opens, closes in occurrences(spec, at, at + timedelta(microseconds=1)):
        if opens <= at < closes:
            return opens, closes
    return None


def is_active(spec: WindowSpec, at: datetime) -> bool:
    """Whether the window is open at `at`."""
    return occurrence_at(spec, at) is not None


def next_occurrences(
    spec: WindowSpec, after: datetime, count: int = 3
) -> list[tuple[datetime, datetime]]:
    """The current occurrence (if open at `after`) and the next ones, at most `count`."""
    # A weekly window opens at least once a week, so count + 1 weeks always hold enough.
    return occurrences(spec, after, _utc(after) + timedelta(weeks=count + 1))[:count]


def ended_between(
    spec: WindowSpec, since: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    """The occurrences that closed in (since, until]: what the end-of-window handling owes."""
    since, until = _utc(since), _utc(until)
    return [
        (opens, closes)
        for opens, closes in occurrences(spec, since, until)
        if since < closes <= until
    ]


DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe(spec: WindowSpec) -> str:
    """One line for people: "Sat, Sun 22:00 for 120 min (Europe/Berlin)" or the one-off span."""
    if spec.is_one_off:
        if spec.starts_at is None or spec.ends_at is None:
            return "one-off (incomplete)"
        return f"one-off {spec.starts_at:%Y-%m-%d %H:%M} to {spec.ends_at:%Y-%m-%d %H:%M} UTC"
    valid = sorted(day for day in spec.weekdays if isinstance(day, int) and 0 <= day <= 6)
    days = ", ".join(DAY_NAMES[day] for day in valid)
    start = spec.start_time.strftime("%H:%M") if spec.start_time else "?"
    return f"{days or '?'} {start} for {spec.duration_minutes} min ({spec.time_zone})"
