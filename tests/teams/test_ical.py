"""iCal: the reader on its own, the export read back with it, and imports becoming overrides."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from teams.ical import CalendarError, event_span, person_hints, read_events, unfold
from teams.models import ScheduleOverride
from teams.selectors import schedule_ical
from teams.services import schedule_create, schedule_override_create
from tests.base import api_client_for

BERLIN = ZoneInfo("Europe/Berlin")


def calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def span(text: str, zone=BERLIN):
    [event] = read_events(text)
    return event_span(event, default_zone=zone)


# --- the reader ----------------------------------------------------------------------------


def test_it_unfolds_continued_lines():
    lines = unfold("SUMMARY:On call for the\r\n  first line\r\n\tteam\r\nUID:1\r\n")
    assert lines == [(1, "SUMMARY:On call for the first lineteam"), (4, "UID:1")]


def test_it_reads_utc_zoned_floating_and_whole_day_times():
    utc = span(calendar("UID:1\nDTSTART:20250301T080000Z\nDTEND:20250301T160000Z"))
    assert utc == (datetime(2025, 3, 1, 8, tzinfo=UTC), datetime(2025, 3, 1, 16, tzinfo=UTC))
    zoned = span(
        calendar(
            'UID:2\nDTSTART;TZID="America/New_York":20250309T010000\n'
            "DTEND;TZID=America/New_York:20250309T050000"
        )
    )
    # Across New York's spring-forward: 01:00 EST to 05:00 EDT is three hours.
    assert zoned[1] - zoned[0] == timedelta(hours=3)
    floating = span(calendar("UID:3\nDTSTART:20250301T090000\nDTEND:20250301T170000"))
    assert floating[0] == datetime(2025, 3, 1, 9, tzinfo=BERLIN)
    whole_days = span(calendar("UID:4\nDTSTART;VALUE=DATE:20250329\nDTEND;VALUE=DATE:20250331"))
    assert whole_days == (
        datetime(2025, 3, 29, tzinfo=BERLIN),
        datetime(2025, 3, 31, tzinfo=BERLIN),
    )
    # Two Berlin calendar days that hold a spring-forward are 47 hours.
    assert whole_days[1] - whole_days[0] == timedelta(hours=47)


def test_it_reads_durations_and_one_whole_day_without_an_end():
    timed = span(calendar("UID:1\nDTSTART:20250301T080000Z\nDURATION:PT8H30M"))
    assert timed[1] - timed[0] == timedelta(hours=8, minutes=30)
    day = span(calendar("UID:2\nDTSTART;VALUE=DATE:20250301"))
    assert day[1] - day[0] == timedelta(days=1)


def test_it_reads_windows_zone_names():
    start, _ = span(
        calendar(
            'UID:1\nDTSTART;TZID="W. Europe Standard Time":20250701T090000\n'
            'DTEND;TZID="W. Europe Standard Time":20250701T170000'
        )
    )
    assert start == datetime(2025, 7, 1, 7, tzinfo=UTC)


def test_it_unescapes_text_and_reads_who_it_is_for():
    [event] = read_events(
        calendar(
            "UID:1\nDTSTART:20250301T080000Z\nDTEND:20250301T160000Z\n"
            "SUMMARY:On call: First line\\, DBA (alice)\n"
            "DESCRIPTION:Covering\\nuser: alice\\nreplaces: bob\n"
            "ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT:mailto:Alice@Example.org\n"
            "ORGANIZER:mailto:boss@example.org"
        )
    )
    assert event.text("SUMMARY") == "On call: First line, DBA (alice)"
    hints = person_hints(event)
    assert hints.username == "alice"
    assert hints.replaces == "bob"
    assert hints.attendee_emails == ("alice@example.org",)
    assert hints.summary_username == "alice"
    assert hints.organizer_email == "boss@example.org"


def test_it_skips_nested_components():
    [event] = read_events(
        calendar(
            "UID:1\nDTSTART:20250301T080000Z\nDTEND:20250301T160000Z\n"
            "BEGIN:VALARM\nACTION:DISPLAY\nDESCRIPTION:user: mallory\nEND:VALARM"
        )
    )
    assert person_hints(event).username is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must begin with BEGIN:VCALENDAR"),
        ("hello", "must begin with BEGIN:VCALENDAR"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:1\n", "ends inside VEVENT"),
        ("BEGIN:VCALENDAR\nEND:VEVENT\nEND:VCALENDAR", "END:VEVENT closes VCALENDAR"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nno colon here\nEND:VEVENT\nEND:VCALENDAR", "line 3"),
        (calendar("UID:1\nDTEND:20250301T080000Z"), "has no DTSTART"),
        (calendar("UID:1\nDTSTART:20250301T080000Z"), "has no DTEND or DURATION"),
        (calendar("UID:1\nDTSTART:2025-03-01\nDTEND:20250302"), "is not a date-time"),
        (calendar("UID:1\nDTSTART;TZID=Nowhere/Special:20250301T080000\nDURATION:PT1H"), "TZID"),
        (calendar("UID:1\nDTSTART:20250302T080000Z\nDTEND:20250301T080000Z"), "ends before"),
        (calendar("UID:1\nDTSTART:20250301T080000Z\nDURATION:P"), "DURATION"),
        (calendar("UID:1\nDTSTART:20250301T080000Z\nDURATION:PT1H\nRRULE:FREQ=DAILY"), "RRULE"),
    ],
)
def test_it_refuses_a_malformed_file_saying_why(text, message):
    with pytest.raises(CalendarError, match=message):
        for event in read_events(text):
            event_span(event, default_zone=BERLIN)


# --- export --------------------------------------------------------------------------------


def test_it_exports_shifts_that_read_back(floor, schedule, bob, midnight):
    response = api_client_for(floor.alice).get(f"/api/v1/schedules/{schedule.pk}/ical?days=3")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    assert "\r\n" in text
    events = read_events(text)
    # Today's shift (begun at midnight) and the next three days' (the last one barely).
    assert len(events) == 4
    first = events[0]
    assert first.get("DTSTART").value == midnight.strftime("%Y%m%dT%H%M%SZ")
    assert first.get("DTEND").value.endswith("Z")
    assert first.text("SUMMARY") == "On call: First line (bob)"
    assert [person_hints(e).username for e in events] == ["bob", "alice", "bob", "alice"]
    spans = [event_span(e, default_zone=UTC) for e in events]
    assert all(end - start == timedelta(days=1) for start, end in spans)


def test_it_keeps_uids_stable_between_exports(schedule, midnight):
    def uids(at):
        return {
            event_span(e, default_zone=UTC)[0]: e.text("UID")
            for e in read_events(schedule_ical(schedule=schedule, days=5, at=at))
        }

    morning = uids(midnight + timedelta(hours=6))
    evening = uids(midnight + timedelta(hours=20))
    assert morning == evening
    assert len(set(morning.values())) == len(morning)


def test_it_exports_a_users_shifts_across_schedules(floor, schedule, bob, midnight):
    schedule_create(team=floor.first_line, name="Secondary", time_zone="Europe/Berlin")
    second = floor.first_line.schedules.get(name="Secondary")
    schedule_override_create(
        schedule=second,
        user=floor.alice,
        start=midnight + timedelta(days=1, hours=1),
        end=midnight + timedelta(days=1, hours=3),
    )
    response = api_client_for(floor.alice).get(f"/api/v1/users/{floor.alice.pk}/ical?days=4")
    assert response.status_code == 200
    events = read_events(response.content.decode())
    assert {person_hints(e).username for e in events} == {"alice"}
    descriptions = [e.text("DESCRIPTION") for e in events]
    assert any("Schedule: Secondary" in d for d in descriptions)
    assert any("Schedule: Primary" in d for d in descriptions)
    # An outside member sees none of the first line's shifts.
    response = api_client_for(floor.paul).get(f"/api/v1/users/{floor.alice.pk}/ical")
    assert read_events(response.content.decode()) == []


def test_it_answers_ical_errors_as_json_whatever_the_accept(floor, schedule):
    api = api_client_for(floor.alice)
    response = api.get(f"/api/v1/schedules/{schedule.pk}/ical?days=0", HTTP_ACCEPT="text/calendar")
    assert response.status_code == 400
    assert "days" in response.json()["fields"]
    ok = api.get(f"/api/v1/schedules/{schedule.pk}/ical", HTTP_ACCEPT="text/calendar")
    assert ok.status_code == 200


# --- import --------------------------------------------------------------------------------


def future(days: int, hours: int = 0) -> str:
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return (at + timedelta(days=days, hours=hours)).strftime("%Y%m%dT%H%M%SZ")


def post_ics(user, schedule, text: str):
    return api_client_for(user).post(
        f"/api/v1/schedules/{schedule.pk}/import/", text, content_type="text/calendar"
    )


def test_it_imports_events_as_overrides(floor, schedule, bob):
    text = calendar(
        f"UID:a\nDTSTART:{future(1)}\nDTEND:{future(1, 8)}\nDESCRIPTION:user: alice",
        f"UID:b\nDTSTART:{future(2)}\nDTEND:{future(2, 8)}\nSUMMARY:bob\n"
        "DESCRIPTION:replaces: alice",
        f"UID:c\nDTSTART:{future(3)}\nDTEND:{future(3, 8)}\nSUMMARY:Cover\n"
        "ATTENDEE:mailto:BOB@example.org",
        f"UID:old\nDTSTART:{future(-3)}\nDTEND:{future(-2)}\nSUMMARY:alice",
    )
    response = post_ics(floor.manager, schedule, text)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["skipped"]) == (3, 0, 1)
    made = {o.external_uid: o for o in ScheduleOverride.objects.all()}
    assert made["a"].user == floor.alice
    assert (made["b"].user, made["b"].replaces) == (bob, floor.alice)
    assert made["c"].user == bob
    assert made["a"].created_by == floor.manager


def test_it_updates_instead_of_doubling_on_a_second_import(floor, schedule, bob):
    first = calendar(f"UID:same\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}\nSUMMARY:alice")
    moved = calendar(f"UID:same\nDTSTART:{future(1)}\nDTEND:{future(1, 6)}\nSUMMARY:bob")
    assert post_ics(floor.alice, schedule, first).json()["created"] == 1
    assert post_ics(floor.alice, schedule, moved).json()["updated"] == 1
    override = ScheduleOverride.objects.get()
    assert override.user == bob
    assert override.end - override.start == timedelta(hours=6)


def test_it_imports_an_uploaded_file(floor, schedule):
    upload = SimpleUploadedFile(
        "cover.ics",
        calendar(f"UID:x\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}\nSUMMARY:alice").encode(),
        content_type="text/calendar",
    )
    response = api_client_for(floor.alice).post(
        f"/api/v1/schedules/{schedule.pk}/import/", {"file": upload}
    )
    assert response.status_code == 200, response.json()
    assert ScheduleOverride.objects.get().user == floor.alice


def test_it_imports_its_own_export(floor, schedule, bob):
    copy = schedule_create(team=floor.first_line, name="Copy", time_zone="UTC")
    exported = api_client_for(floor.alice).get(f"/api/v1/schedules/{schedule.pk}/ical?days=3")
    response = post_ics(floor.alice, copy, exported.content.decode())
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 4
    assert [o.user for o in copy.overrides.order_by("start")] == [
        bob,
        floor.alice,
        bob,
        floor.alice,
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a calendar", "BEGIN:VCALENDAR"),
        (calendar(f"UID:1\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}"), "names nobody we know"),
        (
            calendar(f"UID:1\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}\nDESCRIPTION:user: zed"),
            "no active user named 'zed'",
        ),
        (
            calendar(f"UID:1\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}\nSUMMARY:paul"),
            "not an active member of First line",
        ),
        (
            calendar(
                f"UID:1\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}\n"
                "ATTENDEE:mailto:alice@example.org\nATTENDEE:mailto:bob@example.org"
            ),
            "several people",
        ),
        (calendar(f"UID:1\nDTSTART:{future(1)}\nRRULE:FREQ=WEEKLY\nSUMMARY:alice"), "RRULE"),
    ],
)
def test_it_answers_a_bad_file_with_a_400_that_says_why_and_imports_nothing(
    floor, schedule, bob, text, message
):
    floor.alice.email = "alice@example.org"
    floor.alice.save()
    good_first = calendar(f"UID:ok\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}\nSUMMARY:alice")
    # A good event ahead of the bad one is not kept either: all or nothing.
    text = (
        text
        if "BEGIN:VEVENT" not in text
        else good_first.replace("END:VCALENDAR\r\n", "") + (text[text.index("BEGIN:VEVENT") :])
    )
    response = post_ics(floor.manager, schedule, text)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("cannot import this calendar: ")
    assert message in error
    assert not ScheduleOverride.objects.exists()


def test_it_refuses_a_file_that_is_not_utf8(floor, schedule):
    response = api_client_for(floor.alice).post(
        f"/api/v1/schedules/{schedule.pk}/import/",
        b"BEGIN:VCALENDAR\r\nX-NAME:\xff\xfe\r\nEND:VCALENDAR\r\n",
        content_type="text/calendar",
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]


def test_it_refuses_an_import_without_a_file(floor, schedule):
    response = api_client_for(floor.alice).post(
        f"/api/v1/schedules/{schedule.pk}/import/", {"other": "x"}
    )
    assert response.status_code == 400
    assert "'file'" in response.json()["error"]


def test_it_refuses_an_import_by_an_observer_or_outsider(floor, schedule):
    text = calendar(f"UID:x\nDTSTART:{future(1)}\nDTEND:{future(1, 4)}\nSUMMARY:alice")
    assert post_ics(floor.olga, schedule, text).status_code == 403
    assert post_ics(floor.paul, schedule, text).status_code == 404
    assert not ScheduleOverride.objects.exists()
