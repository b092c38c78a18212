"""Who is on call, as pure functions of plain data: no database, milliseconds each."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from teams.schedules import (
    CUSTOM,
    DAILY,
    WEEKLY,
    LayerSpec,
    OverrideSpec,
    ScheduleError,
    ScheduleSpec,
    gaps_between,
    layer_errors,
    next_oncall,
    oncall_at,
    shifts_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def daily(users=(ALICE, BOB, CAROL), *, start=date(2025, 3, 1), handoff=time(9), **kw):
    return LayerSpec(
        name="primary", rotation=DAILY, start=start, handoff=handoff, user_ids=users, **kw
    )


def spec(*layers, overrides=(), zone="Europe/Berlin") -> ScheduleSpec:
    return ScheduleSpec(time_zone=zone, layers=tuple(layers), overrides=tuple(overrides))


def who(schedule: ScheduleSpec, at: datetime) -> int | None:
    found = oncall_at(schedule, at)
    assert len(found) <= 1
    return found[0].user_id if found else None


# --- rotations -----------------------------------------------------------------------------


def test_it_rotates_daily_at_the_handoff_time():
    schedule = spec(daily())
    assert who(schedule, berlin(2025, 3, 1, 9, 0)) == ALICE
    assert who(schedule, berlin(2025, 3, 2, 8, 59)) == ALICE
    assert who(schedule, berlin(2025, 3, 2, 9, 0)) == BOB
    assert who(schedule, berlin(2025, 3, 3, 12, 0)) == CAROL
    assert who(schedule, berlin(2025, 3, 4, 12, 0)) == ALICE


def test_it_reports_the_shift_someone_is_in():
    [now] = oncall_at(spec(daily()), berlin(2025, 3, 2, 15, 0))
    assert (now.user_id, now.layer) == (BOB, "primary")
    assert now.start == berlin(2025, 3, 2, 9, 0)
    assert now.end == berlin(2025, 3, 3, 9, 0)
    assert not now.is_override


def test_it_has_nobody_before_the_rotation_starts():
    schedule = spec(daily())
    assert who(schedule, berlin(2025, 3, 1, 8, 59)) is None
    assert who(schedule, berlin(2025, 2, 1, 12, 0)) is None


def test_it_rotates_weekly_on_the_start_weekday():
    # 2025-03-03 is a Monday: hand-offs every Monday at 10:00.
    layer = LayerSpec("weekly", WEEKLY, date(2025, 3, 3), time(10), (ALICE, BOB))
    schedule = spec(layer)
    assert who(schedule, berlin(2025, 3, 9, 23, 0)) == ALICE
    assert who(schedule, berlin(2025, 3, 10, 9, 59)) == ALICE
    assert who(schedule, berlin(2025, 3, 10, 10, 0)) == BOB
    assert who(schedule, berlin(2025, 3, 17, 10, 0)) == ALICE
    shifts = shifts_between(schedule, berlin(2025, 3, 3), berlin(2025, 3, 24))
    assert [s.start.astimezone(BERLIN).weekday() for s in shifts] == [0, 0, 0]


def test_it_rotates_custom_lengths():
    layer = LayerSpec(
        "twelve", CUSTOM, date(2025, 3, 1), time(8), (ALICE, BOB), shift_length=timedelta(hours=12)
    )
    schedule = spec(layer)
    assert who(schedule, berlin(2025, 3, 1, 8, 0)) == ALICE
    assert who(schedule, berlin(2025, 3, 1, 20, 0)) == BOB
    assert who(schedule, berlin(2025, 3, 2, 7, 59)) == BOB
    assert who(schedule, berlin(2025, 3, 2, 8, 0)) == ALICE


def test_it_rotates_a_three_day_custom_rotation():
    layer = LayerSpec(
        "three", CUSTOM, date(2025, 3, 1), time(9), (ALICE, BOB), shift_length=timedelta(days=3)
    )
    schedule = spec(layer)
    assert who(schedule, berlin(2025, 3, 4, 8, 0)) == ALICE
    assert who(schedule, berlin(2025, 3, 4, 9, 0)) == BOB
    assert who(schedule, berlin(2025, 3, 7, 9, 0)) == ALICE


def test_it_has_nobody_on_a_layer_without_members():
    assert who(spec(daily(users=())), berlin(2025, 3, 5, 12, 0)) is None


# --- layers --------------------------------------------------------------------------------


def business_hours(users=(DAVE,), position=1) -> LayerSpec:
    return LayerSpec(
        "business hours",
        WEEKLY,
        date(2025, 3, 3),
        time(9),
        users,
        position=position,
        restrict_days=frozenset(range(5)),
        restrict_start=time(9),
        restrict_end=time(17),
    )


def test_it_lets_the_higher_layer_win():
    schedule = spec(daily(), business_hours())
    # Wednesday 12:00: the business-hours layer is on top.
    assert who(schedule, berlin(2025, 3, 5, 12, 0)) == DAVE
    # Same day 17:00 and 08:59: outside its window, the daily rotation shows through.
    assert who(schedule, berlin(2025, 3, 5, 17, 0)) == BOB
    assert who(schedule, berlin(2025, 3, 5, 8, 59)) == ALICE
    # Saturday: not one of its days.
    assert who(schedule, berlin(2025, 3, 8, 12, 0)) == BOB


def test_it_orders_layers_by_position_not_by_listing():
    low = daily(users=(ALICE,), position=0)
    high = daily(users=(BOB,), position=5)
    assert who(spec(high, low), berlin(2025, 3, 5, 12, 0)) == BOB
    assert who(spec(low, high), berlin(2025, 3, 5, 12, 0)) == BOB


def test_it_cuts_the_lower_shift_where_the_higher_layer_takes_over():
    schedule = spec(daily(users=(ALICE,)), business_hours())
    shifts = shifts_between(schedule, berlin(2025, 3, 5, 0, 0), berlin(2025, 3, 6, 0, 0))
    spans = [
        (s.user_id, s.start.astimezone(BERLIN).hour, s.end.astimezone(BERLIN).hour) for s in shifts
    ]
    assert spans == [(ALICE, 17, 9), (DAVE, 9, 17), (ALICE, 17, 9)]
    # The first piece began when Dave's window closed the day before; the last one runs to the
    # hand-off the day after.
    assert shifts[0].start == berlin(2025, 3, 4, 17, 0)
    assert shifts[-1].end == berlin(2025, 3, 6, 9, 0)


def test_it_handles_a_window_crossing_midnight():
    nights = LayerSpec(
        "nights",
        DAILY,
        date(2025, 3, 1),
        time(9),
        (DAVE,),
        position=1,
        restrict_start=time(22),
        restrict_end=time(6),
    )
    schedule = spec(daily(users=(ALICE,)), nights)
    assert who(schedule, berlin(2025, 3, 5, 21, 59)) == ALICE
    assert who(schedule, berlin(2025, 3, 5, 23, 0)) == DAVE
    assert who(schedule, berlin(2025, 3, 6, 5, 59)) == DAVE
    assert who(schedule, berlin(2025, 3, 6, 6, 0)) == ALICE


def test_it_restricts_to_whole_days():
    weekends = LayerSpec(
        "weekends", DAILY, date(2025, 3, 1), time(0), (DAVE,), position=1,
        restrict_days=frozenset({5, 6}),
    )  # fmt: skip
    schedule = spec(daily(users=(ALICE,)), weekends)
    assert who(schedule, berlin(2025, 3, 7, 23, 59)) == ALICE  # Friday
    assert who(schedule, berlin(2025, 3, 8, 0, 0)) == DAVE  # Saturday
    assert who(schedule, berlin(2025, 3, 10, 0, 0)) == ALICE  # Monday


# --- overrides and swaps -------------------------------------------------------------------


def test_it_puts_an_override_on_top_of_everyone():
    cover = OverrideSpec(DAVE, berlin(2025, 3, 2, 12, 0), berlin(2025, 3, 2, 18, 0), id=7)
    schedule = spec(daily(), overrides=[cover])
    assert who(schedule, berlin(2025, 3, 2, 11, 59)) == BOB
    [now] = oncall_at(schedule, berlin(2025, 3, 2, 12, 0))
    assert (now.user_id, now.is_override, now.override_id) == (DAVE, True, 7)
    assert (now.start, now.end) == (cover.start, cover.end)
    assert who(schedule, berlin(2025, 3, 2, 18, 0)) == BOB


def test_it_fills_a_gap_with_an_override():
    cover = OverrideSpec(DAVE, berlin(2025, 2, 28, 0, 0), berlin(2025, 3, 1, 9, 0))
    schedule = spec(daily(), overrides=[cover])
    assert who(schedule, berlin(2025, 2, 28, 12, 0)) == DAVE
    assert gaps_between(schedule, berlin(2025, 2, 28), berlin(2025, 3, 2)) == []


def test_it_applies_a_replacing_override_only_to_that_person():
    # Dave covers Bob for three days: only Bob's day (2 March) changes hands.
    cover = OverrideSpec(DAVE, berlin(2025, 3, 1, 0, 0), berlin(2025, 3, 4, 0, 0), replaces=BOB)
    schedule = spec(daily(), overrides=[cover])
    assert who(schedule, berlin(2025, 3, 1, 12, 0)) == ALICE
    assert who(schedule, berlin(2025, 3, 2, 12, 0)) == DAVE
    assert who(schedule, berlin(2025, 3, 3, 12, 0)) == CAROL


def test_it_swaps_shifts_with_two_crossing_overrides():
    # Alice and Bob swap: Bob takes Alice's 1 March, Alice takes Bob's 2 March.
    swap = [
        OverrideSpec(BOB, berlin(2025, 3, 1, 9), berlin(2025, 3, 2, 9), replaces=ALICE),
        OverrideSpec(ALICE, berlin(2025, 3, 2, 9), berlin(2025, 3, 3, 9), replaces=BOB),
    ]
    schedule = spec(daily(), overrides=swap)
    assert who(schedule, berlin(2025, 3, 1, 12)) == BOB
    assert who(schedule, berlin(2025, 3, 2, 12)) == ALICE
    assert who(schedule, berlin(2025, 3, 3, 12)) == CAROL
    shifts = shifts_between(schedule, berlin(2025, 3, 1, 9), berlin(2025, 3, 3, 9))
    assert [(s.user_id, s.is_override) for s in shifts] == [(BOB, True), (ALICE, True)]


def test_it_applies_later_overrides_on_top():
    first = OverrideSpec(DAVE, berlin(2025, 3, 2, 10), berlin(2025, 3, 2, 20))
    later = OverrideSpec(CAROL, berlin(2025, 3, 2, 12), berlin(2025, 3, 2, 14))
    schedule = spec(daily(), overrides=[first, later])
    assert who(schedule, berlin(2025, 3, 2, 11)) == DAVE
    assert who(schedule, berlin(2025, 3, 2, 13)) == CAROL
    assert who(schedule, berlin(2025, 3, 2, 15)) == DAVE


def test_it_chains_a_cover_of_a_cover():
    first = OverrideSpec(DAVE, berlin(2025, 3, 2, 9), berlin(2025, 3, 3, 9), replaces=BOB)
    second = OverrideSpec(CAROL, berlin(2025, 3, 2, 12), berlin(2025, 3, 2, 18), replaces=DAVE)
    schedule = spec(daily(), overrides=[first, second])
    assert who(schedule, berlin(2025, 3, 2, 10)) == DAVE
    assert who(schedule, berlin(2025, 3, 2, 13)) == CAROL


# --- gaps and what comes next --------------------------------------------------------------


def test_it_reports_gaps():
    schedule = spec(business_hours(position=0))
    gaps = gaps_between(schedule, berlin(2025, 3, 5, 0), berlin(2025, 3, 6, 0))
    assert gaps == [
        (berlin(2025, 3, 5, 0), berlin(2025, 3, 5, 9)),
        (berlin(2025, 3, 5, 17), berlin(2025, 3, 6, 0)),
    ]


def test_it_reports_no_gaps_when_covered():
    assert gaps_between(spec(daily()), berlin(2025, 3, 2), berlin(2025, 4, 2)) == []


def test_it_reports_a_whole_range_without_layers_as_one_gap():
    start, end = berlin(2025, 3, 2), berlin(2025, 3, 3)
    assert gaps_between(spec(), start, end) == [(start, end)]


def test_it_finds_who_is_next():
    upcoming = next_oncall(spec(daily()), berlin(2025, 3, 2, 15))
    assert upcoming is not None
    assert (upcoming.user_id, upcoming.start) == (CAROL, berlin(2025, 3, 3, 9))


def test_it_skips_the_same_person_carrying_on_when_finding_next():
    schedule = spec(
        daily(users=(ALICE,)),
        overrides=[OverrideSpec(BOB, berlin(2025, 3, 10, 9), berlin(2025, 3, 11, 9))],
    )
    upcoming = next_oncall(schedule, berlin(2025, 3, 2, 15))
    assert (upcoming.user_id, upcoming.start) == (BOB, berlin(2025, 3, 10, 9))


def test_it_says_nobody_next_without_anyone_else():
    assert next_oncall(spec(daily(users=(ALICE,))), berlin(2025, 3, 2, 15)) is None


def test_it_finds_the_next_person_after_a_gap():
    upcoming = next_oncall(spec(business_hours(position=0)), berlin(2025, 3, 5, 18))
    assert (upcoming.user_id, upcoming.start) == (DAVE, berlin(2025, 3, 6, 9))


def test_it_keeps_a_shifts_true_span_whatever_the_range_asked():
    schedule = spec(daily())
    wide = shifts_between(schedule, berlin(2025, 3, 1), berlin(2025, 3, 10))
    narrow = shifts_between(schedule, berlin(2025, 3, 4, 13), berlin(2025, 3, 4, 14))
    assert narrow == [s for s in wide if s.start == berlin(2025, 3, 4, 9)]


# --- daylight saving -----------------------------------------------------------------------


def test_it_makes_the_spring_forward_shift_23_hours_in_berlin():
    # Clocks go from 02:00 to 03:00 on Sunday 30 March 2025.
    shifts = shifts_between(spec(daily()), berlin(2025, 3, 29, 12), berlin(2025, 3, 31, 12))
    durations = {s.start.astimezone(BERLIN).date(): s.duration for s in shifts}
    assert durations[date(2025, 3, 29)] == timedelta(hours=23)
    assert durations[date(2025, 3, 30)] == timedelta(hours=24)
    for shift in shifts:
        assert shift.start.astimezone(BERLIN).time() == time(9)
    # In UTC the hand-off moves from 08:00 to 07:00: not a fixed 24 hours.
    assert [s.start.astimezone(UTC).hour for s in shifts] == [8, 7, 7]


def test_it_makes_the_fall_back_shift_25_hours_in_berlin():
    # Clocks go from 03:00 back to 02:00 on Sunday 26 October 2025.
    shifts = shifts_between(spec(daily()), berlin(2025, 10, 25, 12), berlin(2025, 10, 26, 12))
    assert [s.duration for s in shifts] == [timedelta(hours=25), timedelta(hours=24)]
    assert [s.start.astimezone(BERLIN).time() for s in shifts] == [time(9), time(9)]


def test_it_keeps_the_handoff_at_0900_local_for_a_year():
    shifts = shifts_between(spec(daily()), berlin(2025, 3, 1, 9), berlin(2026, 3, 1, 9))
    assert len(shifts) == 365
    assert {s.start.astimezone(BERLIN).time() for s in shifts} == {time(9)}
    assert {s.duration for s in shifts} == {
        timedelta(hours=23),
        timedelta(hours=24),
        timedelta(hours=25),
    }


def test_it_rotates_weekly_across_new_york_daylight_saving():
    # Monday 10:00 hand-offs; clocks spring forward Sunday 9 March 2025, fall back 2 November.
    layer = LayerSpec("weekly", WEEKLY, date(2025, 3, 3), time(10), (ALICE, BOB))
    schedule = spec(layer, zone="America/New_York")
    ny = lambda *a: datetime(*a, tzinfo=NEW_YORK)  # noqa: E731
    [spring] = oncall_at(schedule, ny(2025, 3, 9, 12))
    assert spring.duration == timedelta(hours=7 * 24 - 1)
    assert spring.end.astimezone(NEW_YORK).time() == time(10)
    [fall] = oncall_at(schedule, ny(2025, 11, 2, 12))
    assert fall.duration == timedelta(hours=7 * 24 + 1)
    assert who(schedule, ny(2025, 3, 10, 9, 59)) == ALICE
    assert who(schedule, ny(2025, 3, 10, 10, 0)) == BOB


def test_it_keeps_a_12_hour_rotation_on_the_wall_clock_across_daylight_saving():
    layer = LayerSpec(
        "twelve", CUSTOM, date(2025, 3, 1), time(8), (ALICE, BOB), shift_length=timedelta(hours=12)
    )
    shifts = shifts_between(spec(layer), berlin(2025, 3, 29, 20), berlin(2025, 3, 30, 20))
    assert [s.start.astimezone(BERLIN).hour for s in shifts] == [20, 8]
    assert shifts[0].duration == timedelta(hours=11)


def test_it_hands_off_an_hour_later_when_the_handoff_time_does_not_exist():
    # 02:30 does not happen in Berlin on 30 March 2025; the hand-off is at 03:30 local.
    schedule = spec(daily(handoff=time(2, 30)))
    [now] = oncall_at(schedule, berlin(2025, 3, 30, 12))
    assert now.start.astimezone(BERLIN).time() == time(3, 30)
    assert now.start == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)


def test_it_hands_off_at_the_first_of_two_repeated_times():
    # 02:30 happens twice in Berlin on 26 October 2025: the first one (CEST) counts.
    schedule = spec(daily(handoff=time(2, 30)))
    [now] = oncall_at(schedule, berlin(2025, 10, 26, 12))
    assert now.start == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    second_half_hour = datetime(2025, 10, 26, 1, 20, tzinfo=UTC)  # 02:20 CET, after hand-off
    assert oncall_at(schedule, second_half_hour)[0].start == now.start


def test_it_keeps_a_restriction_window_on_the_local_clock_across_daylight_saving():
    schedule = spec(business_hours(position=0))
    shifts = shifts_between(schedule, berlin(2025, 3, 28), berlin(2025, 4, 1))
    assert [(s.start.astimezone(BERLIN).hour, s.end.astimezone(BERLIN).hour) for s in shifts] == [
        (9, 17),
        (9, 17),
    ]


# --- refusing what cannot be computed ------------------------------------------------------


def test_it_refuses_an_unknown_time_zone():
    with pytest.raises(ScheduleError, match="unknown time zone"):
        oncall_at(spec(daily(), zone="Mars/Olympus"), berlin(2025, 3, 2))


def test_it_refuses_naive_datetimes():
    with pytest.raises(ScheduleError, match="aware"):
        oncall_at(spec(daily()), datetime(2025, 3, 2, 12))


def test_it_names_what_is_wrong_with_a_layer():
    custom = LayerSpec("c", CUSTOM, date(2025, 3, 1), time(9), (ALICE,))
    assert "shift_length" in layer_errors(custom)
    half_window = daily(restrict_start=time(9))
    assert "restriction" in layer_errors(half_window)
    assert layer_errors(daily()) == {}
