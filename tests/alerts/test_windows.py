"""Maintenance-window time logic (alerts/windows.py): pure, no database.

The daylight-saving nights used below (2025):
- Europe/Berlin: spring forward Sun 30 March 02:00 CET -> 03:00 CEST; fall back Sun 26 October
  03:00 CEST -> 02:00 CET.
- America/New_York: spring forward Sun 9 March 02:00 EST -> 03:00 EDT; fall back Sun 2 November
  02:00 EDT -> 01:00 EST.
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.windows import (
    WindowError,
    WindowSpec,
    ended_between,
    is_active,
    next_occurrences,
    occurrence_at,
    occurrences,
    window_errors,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MON, TUE, SAT, SUN = 0, 1, 5, 6


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(zone: str, days, start: time, minutes: int) -> WindowSpec:
    return WindowSpec(
        time_zone=zone, weekdays=frozenset(days), start_time=start, duration_minutes=minutes
    )


def local(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


class TestWeekly:
    def test_it_opens_at_the_local_start_in_winter_and_in_summer(self):
        spec = weekly("Europe/Berlin", [SUN], time(22, 0), 60)
        found = occurrences(spec, utc(2025, 3, 22), utc(2025, 4, 1))
        assert found == [
            (utc(2025, 3, 23, 21), utc(2025, 3, 23, 22)),  # CET, UTC+1
            (utc(2025, 3, 30, 20), utc(2025, 3, 30, 21)),  # CEST, UTC+2
        ]
        assert [local(opens, BERLIN) for opens, _ in found] == [
            "2025-03-23 22:00 CET",
            "2025-03-30 22:00 CEST",
        ]

    def test_it_keeps_real_minutes_across_the_berlin_spring_forward(self):
        spec = weekly("Europe/Berlin", [SUN], time(1, 30), 120)
        [(opens, closes)] = occurrences(spec, utc(2025, 3, 29), utc(2025, 3, 31))
        assert (opens, closes) == (utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 2, 30))
        assert closes - opens == timedelta(minutes=120)
        # Two real hours: the clock jumped an hour, so it reads 04:30, not 03:30.
        assert local(closes, BERLIN) == "2025-03-30 04:30 CEST"

    def test_it_opens_a_start_skipped_by_spring_forward_an_hour_later_on_the_clock(self):
        spec = weekly("Europe/Berlin", [SUN], time(2, 30), 60)
        [(opens, closes)] = occurrences(spec, utc(2025, 3, 29), utc(2025, 3, 31))
        assert local(opens, BERLIN) == "2025-03-30 03:30 CEST"
        assert (opens, closes) == (utc(2025, 3, 30, 1, 30), utc(2025, 3, 30, 2, 30))
        # The week after, 02:30 exists again.
        [(later, _)] = occurrences(spec, utc(2025, 4, 5), utc(2025, 4, 7))
        assert local(later, BERLIN) == "2025-04-06 02:30 CEST"

    def test_it_opens_a_start_repeated_by_fall_back_at_its_first_occurrence(self):
        spec = weekly("Europe/Berlin", [SUN], time(2, 30), 60)
        [(opens, closes)] = occurrences(spec, utc(2025, 10, 25), utc(2025, 10, 27))
        assert (opens, closes) == (utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30))
        assert local(opens, BERLIN) == "2025-10-26 02:30 CEST"
        # An hour of real time later the clock reads 02:30 again, now in CET.
        assert local(closes, BERLIN) == "2025-10-26 02:30 CET"
        assert not is_active(spec, utc(2025, 10, 26, 1, 45))  # 02:45 CET: the second 02:30 hour

    def test_it_keeps_real_minutes_across_the_berlin_fall_back(self):
        spec = weekly("Europe/Berlin", [SAT], time(22, 0), 480)
        [(opens, closes)] = occurrences(spec, utc(2025, 10, 25), utc(2025, 10, 27))
        assert (opens, closes) == (utc(2025, 10, 25, 20), utc(2025, 10, 26, 4))
        assert local(closes, BERLIN) == "2025-10-26 05:00 CET"  # 8 real hours, 7 on the clock
        assert is_active(spec, utc(2025, 10, 26, 3, 59))
        assert not is_active(spec, utc(2025, 10, 26, 4))

    def test_it_keeps_real_minutes_across_the_new_york_spring_forward(self):
        spec = weekly("America/New_York", [SAT], time(22, 0), 480)
        [(opens, closes)] = occurrences(spec, utc(2025, 3, 8), utc(2025, 3, 10))
        assert local(opens, NEW_YORK) == "2025-03-08 22:00 EST"
        assert (opens, closes) == (utc(2025, 3, 9, 3), utc(2025, 3, 9, 11))
        assert local(closes, NEW_YORK) == "2025-03-09 07:00 EDT"  # 8 real hours, 9 on the clock
        assert is_active(spec, datetime(2025, 3, 9, 6, 59, tzinfo=NEW_YORK))
        assert not is_active(spec, datetime(2025, 3, 9, 7, 0, tzinfo=NEW_YORK))

    def test_it_keeps_the_local_start_across_the_new_york_fall_back(self):
        spec = weekly("America/New_York", [SAT], time(22, 0), 480)
        found = occurrences(spec, utc(2025, 10, 25), utc(2025, 11, 10))
        assert [local(opens, NEW_YORK) for opens, _ in found] == [
            "2025-10-25 22:00 EDT",
            "2025-11-01 22:00 EDT",
            "2025-11-08 22:00 EST",
        ]
        # The night of the change: 8 real hours end at 05:00 EST (7 on the clock).
        assert found[1] == (utc(2025, 11, 2, 2), utc(2025, 11, 2, 10))
        assert local(found[1][1], NEW_YORK) == "2025-11-02 05:00 EST"

    def test_it_opens_the_repeated_new_york_hour_once(self):
        spec = weekly("America/New_York", [SUN], time(1, 30), 30)
        [(opens, closes)] = occurrences(spec, utc(2025, 11, 1), utc(2025, 11, 3))
        assert (opens, closes) == (utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 6))  # 01:30 EDT
        assert not is_active(spec, utc(2025, 11, 2, 6, 30))  # 01:30 EST, the second one

    def test_it_only_opens_on_its_weekdays(self):
        spec = weekly("UTC", [MON, TUE], time(9, 0), 30)
        found = occurrences(spec, utc(2025, 6, 2), utc(2025, 6, 9))  # Mon 2 June to Mon 9
        assert [opens.weekday() for opens, _ in found] == [MON, TUE]

    def test_it_includes_an_occurrence_already_open_at_the_range_start(self):
        spec = weekly("UTC", [MON], time(23, 0), 120)
        found = occurrences(spec, utc(2025, 6, 3, 0, 30), utc(2025, 6, 3, 1))
        assert found == [(utc(2025, 6, 2, 23), utc(2025, 6, 3, 1))]

    def test_it_merges_occurrences_that_overlap(self):
        spec = weekly("UTC", [MON, TUE], time(20, 0), 25 * 60)
        found = occurrences(spec, utc(2025, 6, 2), utc(2025, 6, 5))
        # Monday 20:00 + 25 h overlaps Tuesday 20:00: one window, closing Wednesday 21:00.
        assert found == [(utc(2025, 6, 2, 20), utc(2025, 6, 4, 21))]

    def test_it_opens_inclusively_and_closes_exclusively(self):
        spec = weekly("UTC", [MON], time(9, 0), 60)
        assert occurrence_at(spec, utc(2025, 6, 2, 9)) == (utc(2025, 6, 2, 9), utc(2025, 6, 2, 10))
        assert is_active(spec, utc(2025, 6, 2, 9, 59, 59))
        assert not is_active(spec, utc(2025, 6, 2, 10))
        assert not is_active(spec, utc(2025, 6, 2, 8, 59, 59))

    def test_it_lists_the_current_and_next_occurrences(self):
        spec = weekly("Europe/Berlin", [SUN], time(1, 0), 240)
        found = next_occurrences(spec, utc(2025, 3, 30, 1), count=3)
        assert [local(opens, BERLIN) for opens, _ in found] == [
            "2025-03-30 01:00 CET",  # open right now
            "2025-04-06 01:00 CEST",
            "2025-04-13 01:00 CEST",
        ]

    def test_it_lists_as_many_next_occurrences_as_asked(self):
        spec = weekly("UTC", [SUN], time(2, 0), 60)
        found = next_occurrences(spec, utc(2025, 6, 2), count=5)  # a Monday
        assert [opens.date().isoformat() for opens, _ in found] == [
            "2025-06-08",
            "2025-06-15",
            "2025-06-22",
            "2025-06-29",
            "2025-07-06",
        ]


class TestOneOff:
    SPEC = WindowSpec(starts_at=utc(2025, 6, 1, 22), ends_at=utc(2025, 6, 2, 2))

    def test_it_is_open_between_its_start_and_end(self):
        assert not is_active(self.SPEC, utc(2025, 6, 1, 21, 59))
        assert is_active(self.SPEC, utc(2025, 6, 1, 22))
        assert is_active(self.SPEC, datetime(2025, 6, 2, 3, 59, tzinfo=BERLIN))  # 01:59 UTC
        assert not is_active(self.SPEC, utc(2025, 6, 2, 2))

    def test_it_lists_one_occurrence_when_it_overlaps(self):
        assert occurrences(self.SPEC, utc(2025, 6, 2), utc(2025, 6, 3)) == [
            (utc(2025, 6, 1, 22), utc(2025, 6, 2, 2))
        ]
        assert occurrences(self.SPEC, utc(2025, 6, 2, 2), utc(2025, 6, 3)) == []
        assert next_occurrences(self.SPEC, utc(2025, 6, 3)) == []


class TestEnded:
    def test_it_reports_occurrences_that_closed_in_the_span(self):
        spec = weekly("UTC", [MON], time(9, 0), 60)
        assert ended_between(spec, utc(2025, 6, 2, 9, 30), utc(2025, 6, 2, 10)) == [
            (utc(2025, 6, 2, 9), utc(2025, 6, 2, 10))
        ]
        # Already handled up to its close: not again.
        assert ended_between(spec, utc(2025, 6, 2, 10), utc(2025, 6, 2, 11)) == []
        assert ended_between(spec, utc(2025, 6, 2, 9, 30), utc(2025, 6, 2, 9, 59)) == []

    def test_it_reports_a_one_off_window_once_closed(self):
        spec = WindowSpec(starts_at=utc(2025, 6, 1), ends_at=utc(2025, 6, 1, 2))
        assert ended_between(spec, utc(2025, 5, 31), utc(2025, 6, 1, 1)) == []
        assert ended_between(spec, utc(2025, 5, 31), utc(2025, 6, 1, 3)) == [
            (utc(2025, 6, 1), utc(2025, 6, 1, 2))
        ]


class TestErrors:
    def test_it_accepts_a_complete_weekly_window(self):
        assert window_errors(weekly("Europe/Berlin", [SAT, SUN], time(22), 120)) == {}

    def test_it_names_what_a_weekly_window_is_missing(self):
        errors = window_errors(WindowSpec(time_zone="Mars/Olympus"))
        assert set(errors) == {"time_zone", "weekdays", "start_time", "duration_minutes"}
        assert "Europe/Berlin" in errors["time_zone"]

    def test_it_refuses_bad_weekdays_and_durations(self):
        assert "weekdays" in window_errors(weekly("UTC", [7], time(1), 60))
        assert "duration_minutes" in window_errors(weekly("UTC", [1], time(1), 0))
        assert "duration_minutes" in window_errors(weekly("UTC", [1], time(1), 7 * 24 * 60 + 1))

    def test_it_refuses_a_one_off_window_ending_before_it_starts(self):
        spec = WindowSpec(starts_at=utc(2025, 6, 2), ends_at=utc(2025, 6, 1))
        assert window_errors(spec) == {"ends_at": "the end must be after the start"}

    def test_it_refuses_naive_times_and_mixed_kinds(self):
        naive = WindowSpec(starts_at=datetime(2025, 6, 1), ends_at=utc(2025, 6, 2))
        assert "starts_at" in window_errors(naive)
        mixed = WindowSpec(
            starts_at=utc(2025, 6, 1), ends_at=utc(2025, 6, 2), weekdays=frozenset({1})
        )
        assert "weekdays" in window_errors(mixed)

    def test_it_will_not_compute_an_invalid_window(self):
        with pytest.raises(WindowError, match="weekdays"):
            occurrences(
                WindowSpec(start_time=time(1), duration_minutes=5), utc(2025, 1, 1), utc(2025, 1, 2)
            )
