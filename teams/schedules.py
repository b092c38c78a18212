"""Who is on call: pure functions of plain data, no database.

A schedule has layers (rotations) and overrides. At any instant:

1. the layer with the highest `position` that has someone on call wins (a layer has nobody
   outside its restriction window or before its start); among equal positions the later one in
   `ScheduleSpec.layers` wins;
2. overrides then apply in order (later ones on top): an override without `replaces` puts its
   user on call whoever was (it also fills a gap); one with `replaces` takes over only while that
   user is on call — a one-sided cover; two of them crossing each other make a shift swap.

Time zones: a rotation hands off at its local wall-clock hand-off time in the schedule's zone, so
shifts are computed on local dates and converted to UTC one by one. The daily shift that contains
a daylight-saving change therefore lasts 23 or 25 hours. A hand-off time that does not exist on a
spring-forward day (02:30 in Berlin) happens at the same instant one hour later on the clock
(03:30); one that exists twice on a fall-back day happens at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

DAILY = "daily"
WEEKLY = "weekly"
CUSTOM = "custom"
ROTATIONS = (DAILY, WEEKLY, CUSTOM)

# How far `next_oncall` looks ahead before saying there is nobody.
NEXT_HORIZON = timedelta(days=90)


@dataclass(frozen=True)
class LayerSpec:
    """One rotation. The first shift starts at `handoff` on the local date `start`; weekly
    rotations hand off on that date's weekday. A restriction limits the layer to a daily window
    (`restrict_start`-`restrict_end`, crossing midnight when end <= start) on `restrict_days`
    (0 = Monday; empty = every day); with days but no times, whole days."""

    name: str
    rotation: str
    start: date
    handoff: time
    user_ids: tuple[int, ...]
    position: int = 0
    shift_length: timedelta | None = None
    restrict_days: frozenset[int] = frozenset()
    restrict_start: time | None = None
    restrict_end: time | None = None
    id: int | None = None

    @property
    def restricted(self) -> bool:
        return bool(self.restrict_days) or self.restrict_start is not None

    def length(self) -> timedelta:
        if self.rotation == DAILY:
            return timedelta(days=1)
        if self.rotation == WEEKLY:
            return timedelta(days=7)
        assert self.shift_length is not None
        return self.shift_length


# `restrict_days` as stored on a layer: ASCII digits 0 (Monday) to 6 (Sunday), e.g. "01234";
# blank is every day. The model field's validator, the API's 0-6 integers, docs/schedules.md and
# everything below agree on this; anything else is an error, never a day to skip: dropping the
# "7" of "7" would turn a Sunday-only layer into an every-day one.
WEEKDAY_DIGITS = "0123456"


def parse_weekdays(text: str) -> frozenset[int]:
    """The weekdays of a stored `restrict_days`; ScheduleError when it is not weekday digits."""
    if not set(text) <= set(WEEKDAY_DIGITS):
        raise ScheduleError(f"days are digits 0 (Monday) to 6 (Sunday), e.g. 01234; not {text!r}")
    return frozenset(int(day) for day in text)


class LayerFields(Protocol):
    """What layer_spec_of reads: the fields of teams.models.ScheduleLayer, also found on
    teams.services.LayerInput."""

    name: str
    rotation_kind: str
    start: date
    handoff_time: time
    position: int
    shift_length: timedelta | None
    restrict_days: str
    restrict_start: time | None
    restrict_end: time | None


def layer_spec_of(layer: LayerFields, *, user_ids: Iterable[int] = (), **extra) -> LayerSpec:
    """The LayerSpec of a stored or submitted layer; `extra` sets or replaces LayerSpec fields
    (e.g. id, or restrict_days to check the rest of a layer whose days are bad). ScheduleError
    when its restrict_days are not weekday digits (parse_weekdays); layer_errors says what else
    is wrong."""
    if "restrict_days" not in extra:
        extra["restrict_days"] = parse_weekdays(layer.restrict_days)
    fields = {
        "name": layer.name,
        "rotation": layer.rotation_kind,
        "start": layer.start,
        "handoff": layer.handoff_time,
        "user_ids": tuple(user_ids),
        "position": layer.position,
        "shift_length": layer.shift_length,
        "restrict_start": layer.restrict_start,
        "restrict_end": layer.restrict_end,
    }
    return LayerSpec(**{**fields, **extra})


@dataclass(frozen=True)
class OverrideSpec:
    user_id: int
    start: datetime
    end: datetime
    replaces: int | None = None
    id: int | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    time_zone: str
    layers: tuple[LayerSpec, ...] = ()
    overrides: tuple[OverrideSpec, ...] = ()
    id: int | None = None
    name: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class Shift:
    """A final shift: who is on call from `start` to `end`, and why (a layer or an override).

    A layer shift is cut where a higher layer, a restriction window or an override takes over,
    so one rotation shift can show as several pieces."""

    user_id: int
    start: datetime
    end: datetime
    layer: str | None = None
    layer_id: int | None = None
    override_id: int | None = None
    # Where the piece comes from, e.g. ("layer", 0, 12) = layer index 0, its 13th shift. Pieces
    # of one source that touch are one shift; the source's own span bounds every piece.
    source: tuple = field(default=(), compare=False, repr=False)
    source_start: datetime | None = field(default=None, compare=False, repr=False)
    source_end: datetime | None = field(default=None, compare=False, repr=False)

    @property
    def is_override(self) -> bool:
        return self.source[:1] == ("override",)

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


# Who is on call now: the same shape as a final shift.
OnCall = Shift


class ScheduleError(ValueError):
    """A spec that cannot be computed (unknown zone, bad rotation); the message says what."""


# --- validation ----------------------------------------------------------------------------


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone_error(name: str) -> str | None:
    if name not in _zones():
        return f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
    return None


def layer_errors(layer: LayerSpec) -> dict[str, str]:
    """What is wrong with a layer, by field name; empty when it can be computed."""
    errors: dict[str, str] = {}
    if layer.rotation not in ROTATIONS:
        errors["rotation_kind"] = f"must be one of {', '.join(ROTATIONS)}"
    if layer.rotation == CUSTOM:
        if layer.shift_length is None:
            errors["shift_length"] = "a custom rotation needs a shift length"
        elif layer.shift_length < timedelta(minutes=15):
            errors["shift_length"] = "a shift lasts at least 15 minutes"
        elif layer.shift_length > timedelta(days=366):
            errors["shift_length"] = "a shift lasts at most a year"
    if (layer.restrict_start is None) != (layer.restrict_end is None):
        errors["restriction"] = "give both the start and the end of the window, or neither"
    elif layer.restrict_start is not None and layer.restrict_start == layer.restrict_end:
        errors["restriction"] = "the window's start and end must differ"
    if any(day not in range(7) for day in layer.restrict_days):
        errors["restriction"] = "days are 0 (Monday) to 6 (Sunday)"
    return errors


def _check(spec: ScheduleSpec) -> ZoneInfo:
    if error := time_zone_error(spec.time_zone):
        raise ScheduleError(error)
    for layer in spec.layers:
        if errors := layer_errors(layer):
            raise ScheduleError(f"layer {layer.name!r}: {errors}")
    return spec.zone


def _aware(value: datetime, name: str) -> datetime:
    """The instant in UTC. Python compares and subtracts two datetimes of one zone by their
    wall clocks, which is wrong across a DST change; in UTC it is always right."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


# --- local time --------------------------------------------------------------------------


def _utc(naive_local: datetime, zone: ZoneInfo) -> datetime:
    # fold=0: a time skipped by spring-forward maps to the instant an hour later on the clock;
    # a time that happens twice maps to its first occurrence.
    return naive_local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _wall(at: datetime, zone: ZoneInfo) -> datetime:
    return at.astimezone(zone).replace(tzinfo=None)


# --- one layer ---------------------------------------------------------------------------


def _anchor(layer: LayerSpec) -> datetime:
    return datetime.combine(layer.start, layer.handoff)


def _handoff(layer: LayerSpec, k: int, zone: ZoneInfo) -> datetime:
    """The instant shift k of the layer begins: local wall-clock arithmetic, then UTC."""
    return _utc(_anchor(layer) + k * layer.length(), zone)


def _shift_index(layer: LayerSpec, at: datetime, zone: ZoneInfo) -> int | None:
    """Which shift of the layer `at` falls in; None before the rotation starts."""
    if at < _handoff(layer, 0, zone):
        return None
    k = max(0, (_wall(at, zone) - _anchor(layer)) // layer.length())
    # The wall-clock estimate can be one off inside a repeated hour: settle on instants.
    while _handoff(layer, k + 1, zone) <= at:
        k += 1
    while k > 0 and _handoff(layer, k, zone) > at:
        k -= 1
    return k


def _windows(layer: LayerSpec, day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The restriction window that opens on local date `day`, as UTC instants."""
    if layer.restrict_days and day.weekday() not in layer.restrict_days:
        return None
    if layer.restrict_start is None or layer.restrict_end is None:
        return _utc(datetime.combine(day, time()), zone), _utc(
            datetime.combine(day + timedelta(days=1), time()), zone
        )
    end_day = day if layer.restrict_end > layer.restrict_start else day + timedelta(days=1)
    return (
        _utc(datetime.combine(day, layer.restrict_start), zone),
        _utc(datetime.combine(end_day, layer.restrict_end), zone),
    )


def _in_window(layer: LayerSpec, at: datetime, zone: ZoneInfo) -> bool:
    if not layer.restricted:
        return True
    today = at.astimezone(zone).date()
    for day in (today - timedelta(days=1), today):
        window = _windows(layer, day, zone)
        if window and window[0] <= at < window[1]:
            return True
    return False


def _layer_boundaries(
    layer: LayerSpec, start: datetime, end: datetime, zone: ZoneInfo
) -> Iterator[datetime]:
    """Every instant in the range where the layer's answer may change."""
    if not layer.user_ids:
        return
    first = _shift_index(layer, start, zone)
    k = 0 if first is None else first
    while (at := _handoff(layer, k, zone)) < end:
        yield at
        k += 1
    if layer.restricted:
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        while day <= last:
            if window := _windows(layer, day, zone):
                yield from window
            day += timedelta(days=1)


def _layer_at(layer: LayerSpec, index: int, at: datetime, zone: ZoneInfo) -> Shift | None:
    if not layer.user_ids:
        return None
    k = _shift_index(layer, at, zone)
    if k is None or not _in_window(layer, at, zone):
        return None
    user_id = layer.user_ids[k % len(layer.user_ids)]
    source_start, source_end = _handoff(layer, k, zone), _handoff(layer, k + 1, zone)
    return Shift(
        user_id=user_id,
        start=source_start,
        end=source_end,
        layer=layer.name,
        layer_id=layer.id,
        source=("layer", index, k),
        source_start=source_start,
        source_end=source_end,
    )


# --- the whole schedule --------------------------------------------------------------------


def _resolve(spec: ScheduleSpec, at: datetime, zone: ZoneInfo) -> Shift | None:
    """Who is on call at the instant: layers by precedence, then overrides on top."""
    current = None
    ranked = sorted(enumerate(spec.layers), key=lambda pair: (pair[1].position, pair[0]))
    for index, layer in reversed(ranked):
        if current := _layer_at(layer, index, at, zone):
            break
    for index, override in enumerate(spec.overrides):
        if not override.start <= at < override.end:
            continue
        if override.replaces is not None and (
            current is None or current.user_id != override.replaces
        ):
            continue
        start, end = override.start.astimezone(UTC), override.end.astimezone(UTC)
        current = Shift(
            user_id=override.user_id,
            start=start,
            end=end,
            override_id=override.id,
            source=("override", index),
            source_start=start,
            source_end=end,
        )
    return current


def _pieces(spec: ScheduleSpec, start: datetime, end: datetime, zone: ZoneInfo) -> list[Shift]:
    """Final shifts within [start, end), cut at its edges."""
    cuts = {start, end}
    for layer in spec.layers:
        cuts.update(at for at in _layer_boundaries(layer, start, end, zone) if start < at < end)
    for override in spec.overrides:
        edges = (override.start.astimezone(UTC), override.end.astimezone(UTC))
        cuts.update(at for at in edges if start < at < end)
    ordered = sorted(cuts)
    pieces: list[Shift] = []
    for left, right in pairwise(ordered):
        shift = _resolve(spec, left, zone)
        if shift is None:
            continue
        last = pieces[-1] if pieces else None
        if last and last.end == left and last.source == shift.source:
            pieces[-1] = _with_span(last, last.start, right)
        else:
            pieces.append(_with_span(shift, left, right))
    return pieces


def _with_span(shift: Shift, start: datetime, end: datetime) -> Shift:
    return Shift(
        user_id=shift.user_id,
        start=start,
        end=end,
        layer=shift.layer,
        layer_id=shift.layer_id,
        override_id=shift.override_id,
        source=shift.source,
        source_start=shift.source_start,
        source_end=shift.source_end,
    )


def shifts_between(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Shift]:
    """The final shifts (after layers and overrides) that overlap [start, end).

    Shifts keep their true start and end even where they reach past the range, so the same
    shift is the same whatever range asked for it (stable iCal UIDs, grid blocks that began
    yesterday)."""
    zone = _check(spec)
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        return []
    pieces = _pieces(spec, start, end, zone)
    # A piece never reaches past its source (a rotation shift or an override), so computing
    # again over the sources of the two edge pieces gives those pieces their true extent.
    low = min([start, *(p.source_start for p in pieces if p.start == start)])
    high = max([end, *(p.source_end for p in pieces if p.end == end)])
    if (low, high) != (start, end):
        pieces = [p for p in _pieces(spec, low, high, zone) if p.end > start and p.start < end]
    return pieces


def gaps_between(
    spec: ScheduleSpec, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The spans within [start, end) when nobody is on call."""
    start, end = _aware(start, "start"), _aware(end, "end")
    gaps = []
    cursor = start
    for shift in shifts_between(spec, start, end):
        if shift.start > cursor:
            gaps.append((cursor, shift.start))
        cursor = max(cursor, shift.end)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def oncall_at(spec: ScheduleSpec, at: datetime) -> list[OnCall]:
    """Who is on call at `at` (one person, or nobody during a gap), with the span of the final
    shift they are in."""
    at = _aware(at, "at")
    return [s for s in shifts_between(spec, at, at + timedelta(seconds=1)) if s.start <= at]


def next_oncall(
    spec: ScheduleSpec, at: datetime, *, horizon: timedelta = NEXT_HORIZON
) -> OnCall | None:
    """Who comes on next: the first shift after the current person's run of back-to-back
    shifts ends (a gap ends a run too). None when nobody else within the horizon."""
    at = _aware(at, "at")
    current = oncall_at(spec, at)
    after = current[0].end if current else at
    user_id = current[0].user_id if current else None
    while after < at + horizon:
        window_end = min(after + timedelta(days=14), at + horizon)
        for shift in shifts_between(spec, after, window_end):
            if shift.start < after:
                continue
            if shift.start == after and shift.user_id == user_id:
                after = shift.end  # the same person carries on
                continue
            return shift
        if after < window_end:
            after, user_id = window_end, None
    return None
