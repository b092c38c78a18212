"""A small RFC 5545 (iCalendar) reader and writer: enough to export shifts and to import
overrides. Pure: text in, plain data out; no database.

Reading covers what calendar programs actually send for single events: line unfolding, quoted
parameters, TEXT escapes, DTSTART/DTEND as UTC (`Z`), with a TZID (IANA names and the common
Windows names Outlook writes), floating (taken in the schedule's zone) or a DATE (midnight in
the schedule's zone), and DURATION instead of DTEND. Repeating events (RRULE, RDATE) are refused
rather than half-imported. Anything malformed is a `CalendarError` naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .schedules import time_zone_error

MAX_EVENTS = 1000
PRODID = "-//IOC//On-call schedules//EN"

# What Outlook and Exchange write as TZID, for the zones an operations floor is likely to use.
WINDOWS_ZONES = {
    "UTC": "UTC",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Kolkata",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
}


class CalendarError(ValueError):
    """The file is not an iCalendar we can read; the message says where and why."""


@dataclass(frozen=True)
class Property:
    name: str
    params: dict[str, str]
    value: str
    line: int


@dataclass
class Event:
    """One VEVENT as read: its properties by name (nested components such as VALARM left out)."""

    line: int
    properties: list[Property] = field(default_factory=list)

    def get(self, name: str) -> Property | None:
        return next((p for p in self.properties if p.name == name), None)

    def all(self, name: str) -> list[Property]:
        return [p for p in self.properties if p.name == name]

    def text(self, name: str) -> str:
        prop = self.get(name)
        return unescape_text(prop.value) if prop else ""

    @property
    def label(self) -> str:
        """How an error message names the event."""
        summary = self.text("SUMMARY")
        return f"the event on line {self.line}" + (f" ({summary!r})" if summary else "")


@dataclass(frozen=True)
class CalendarEvent:
    """An event to write."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""


# --- reading -------------------------------------------------------------------------------


def unfold(text: str) -> list[tuple[int, str]]:
    """Logical lines with the number of the physical line each begins on. A line that starts
    with a space or a tab continues the one before (RFC 5545 3.1)."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", text), start=1):
        if raw[:1] in (" ", "\t") and lines:
            first, so_far = lines[-1]
            lines[-1] = (first, so_far + raw[1:])
        elif raw.strip():
            lines.append((number, raw))
    return lines


def parse_line(line: str, number: int) -> Property:
    """`NAME;PARAM=value;PARAM="quoted:value":VALUE` into its parts."""
    match = re.match(r"[A-Za-z0-9-]+", line)
    if not match:
        raise CalendarError(f"line {number}: not a content line: {line[:40]!r}")
    name, rest = match.group(0).upper(), line[match.end() :]
    params: dict[str, str] = {}
    while rest.startswith(";"):
        param = re.match(r';([A-Za-z0-9-]+)=("[^"]*"|[^";:]*)((?:,(?:"[^"]*"|[^";:,]*))*)', rest)
        if not param:
            raise CalendarError(f"line {number}: a malformed parameter in {line[:60]!r}")
        params[param.group(1).upper()] = (param.group(2) + param.group(3)).replace('"', "")
        rest = rest[param.end() :]
    if not rest.startswith(":"):
        raise CalendarError(f"line {number}: expected ':' after {name} in {line[:60]!r}")
    return Property(name=name, params=params, value=rest[1:], line=number)


def read_events(text: str) -> list[Event]:
    """The VEVENTs of a VCALENDAR, checking that components open and close in order."""
    lines = unfold(text.lstrip("\ufeff"))
    if not lines or lines[0][1].strip().upper() != "BEGIN:VCALENDAR":
        raise CalendarError("not an iCalendar file: it must begin with BEGIN:VCALENDAR")
    stack: list[tuple[str, int]] = []
    events: list[Event] = []
    current: Event | None = None
    ended = False
    for number, line in lines:
        if ended:
            raise CalendarError(f"line {number}: content after END:VCALENDAR")
        prop = parse_line(line, number)
        if prop.name == "BEGIN":
            component = prop.value.strip().upper()
            stack.append((component, number))
            if component == "VEVENT":
                if current is not None:
                    raise CalendarError(f"line {number}: a VEVENT inside another VEVENT")
                current = Event(line=number)
            continue
        if prop.name == "END":
            component = prop.value.strip().upper()
            if not stack or stack[-1][0] != component:
                open_one = f"{stack[-1][0]} (line {stack[-1][1]})" if stack else "nothing"
                raise CalendarError(f"line {number}: END:{component} closes {open_one}")
            stack.pop()
            if component == "VEVENT" and current is not None:
                events.append(current)
                current = None
                if len(events) > MAX_EVENTS:
                    raise CalendarError(f"more than {MAX_EVENTS} events: split the file")
            ended = not stack
            continue
        if current is not None and stack[-1][0] == "VEVENT":
            current.properties.append(prop)
    if stack:
        component, number = stack[-1]
        raise CalendarError(f"the file ends inside {component} (opened on line {number})")
    return events


def unescape_text(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _zone_for(prop: Property, default_zone: ZoneInfo) -> ZoneInfo:
    tzid = prop.params.get("TZID")
    if not tzid:
        return default_zone
    name = WINDOWS_ZONES.get(tzid, tzid.lstrip("/"))
    if time_zone_error(name):
        raise CalendarError(f"line {prop.line}: unknown time zone TZID={tzid!r}")
    return ZoneInfo(name)


def parse_when(prop: Property, default_zone: ZoneInfo) -> tuple[datetime, bool]:
    """A DTSTART or DTEND as an aware datetime, and whether it was a whole-day DATE."""
    value = prop.value.strip()
    try:
        if prop.params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", value):
            day = datetime.strptime(value, "%Y%m%d").date()
            return datetime(day.year, day.month, day.day, tzinfo=default_zone), True
        if value.endswith(("Z", "z")):
            naive = datetime.strptime(value[:-1], "%Y%m%dT%H%M%S")
            return naive.replace(tzinfo=UTC), False
        naive = datetime.strptime(value, "%Y%m%dT%H%M%S")
    except ValueError as exc:
        raise CalendarError(
            f"line {prop.line}: {prop.name} {value!r} is not a date-time like 20250301T090000Z"
            " or a date like 20250301"
        ) from exc
    return naive.replace(tzinfo=_zone_for(prop, default_zone)), False


def parse_duration(value: str, line: int) -> timedelta:
    match = re.fullmatch(
        r"([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", value.strip()
    )
    if not match or value.strip().rstrip("T").endswith("P"):
        raise CalendarError(f"line {line}: DURATION {value!r} is not like PT8H or P1D")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    duration = timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -duration if sign == "-" else duration


def event_span(event: Event, *, default_zone: ZoneInfo) -> tuple[datetime, datetime]:
    """When a single event starts and ends, as aware datetimes."""
    for repeating in ("RRULE", "RDATE"):
        if event.get(repeating):
            raise CalendarError(
                f"{event.label} repeats ({repeating}): the importer takes single events only;"
                " export the occurrences or add them one by one"
            )
    dtstart = event.get("DTSTART")
    if dtstart is None:
        raise CalendarError(f"{event.label} has no DTSTART")
    start, whole_day = parse_when(dtstart, default_zone)
    if dtend := event.get("DTEND"):
        end, _ = parse_when(dtend, default_zone)
    elif duration := event.get("DURATION"):
        end = _add(start, parse_duration(duration.value, duration.line))
    elif whole_day:
        end = _add(start, timedelta(days=1))
    else:
        raise CalendarError(f"{event.label} has no DTEND or DURATION")
    # In UTC: Python compares two times of one zone by their wall clocks, wrong across DST.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise CalendarError(f"{event.label} ends before it starts")
    return start, end


def _add(start: datetime, delta: timedelta) -> datetime:
    # Whole days are calendar days on the local clock (RFC 5545 3.3.6); the rest elapsed time.
    local = start.replace(tzinfo=None) + timedelta(days=delta.days)
    return local.replace(tzinfo=start.tzinfo).astimezone(UTC) + timedelta(seconds=delta.seconds)


# --- naming the person ---------------------------------------------------------------------

_NAMED = re.compile(r"^\s*(user|username|replaces)\s*:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_IN_PARENS = re.compile(r"\(([^()\s]+)\)\s*$")


@dataclass(frozen=True)
class PersonHints:
    """What an event says about whose override it is, in the order the importer tries them:
    a `user: <username>` description line; attendee emails; the summary (a bare username, or
    "... (<username>)" as this app exports); the organizer's email."""

    username: str | None
    attendee_emails: tuple[str, ...]
    summary_username: str | None
    organizer_email: str | None
    replaces: str | None


def _email(prop: Property) -> str | None:
    value = prop.value.strip()
    if value.lower().startswith("mailto:"):
        value = value[7:]
    return value.lower() if "@" in value else None


def person_hints(event: Event) -> PersonHints:
    named = {key.lower(): value for key, value in _NAMED.findall(event.text("DESCRIPTION"))}
    summary = event.text("SUMMARY").strip()
    if match := _IN_PARENS.search(summary):
        summary_username = match.group(1)
    elif summary and not re.search(r"\s", summary):
        summary_username = summary
    else:
        summary_username = None
    organizer = event.get("ORGANIZER")
    return PersonHints(
        username=named.get("user") or named.get("username"),
        attendee_emails=tuple(e for p in event.all("ATTENDEE") if (e := _email(p))),
        summary_username=summary_username,
        organizer_email=_email(organizer) if organizer else None,
        replaces=named.get("replaces"),
    )


# --- writing -------------------------------------------------------------------------------


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets, never inside a UTF-8 character."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def utc_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_calendar(*, name: str, events: Iterable[CalendarEvent], now: datetime) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{utc_stamp(now)}",
            f"DTSTART:{utc_stamp(event.start)}",
            f"DTEND:{utc_stamp(event.end)}",
            f"SUMMARY:{escape_text(event.summary)}",
        ]
        if event.description:
            lines.append(f"DESCRIPTION:{escape_text(event.description)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
