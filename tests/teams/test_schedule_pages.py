"""The schedule pages: the list, the two-week grid, the htmx override form, the board panel."""

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.test import Client

from teams.models import ScheduleOverride
from teams.services import LayerInput, schedule_create, schedule_override_create

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def gappy(floor):
    """Business hours only: nobody on call at night or at weekends."""
    return schedule_create(
        team=floor.first_line,
        name="Office hours",
        time_zone="Europe/Berlin",
        layers=[
            LayerInput(
                name="office",
                start=date(2025, 1, 6),
                rotation_kind="daily",
                handoff_time=time(9),
                users=[floor.alice],
                restrict_days="01234",
                restrict_start=time(9),
                restrict_end=time(17),
            )
        ],
    )


def override_form(floor, midnight, **changes) -> dict:
    form = {
        "user": str(floor.alice.pk),
        # The day after tomorrow is bob's again.
        "start": (midnight + timedelta(days=2, hours=8)).strftime("%Y-%m-%dT%H:%M"),
        "end": (midnight + timedelta(days=2, hours=12)).strftime("%Y-%m-%dT%H:%M"),
        "replaces": "",
        "reason": "swap with bob",
    }
    return {**form, **changes}


# --- the list ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/schedules/", "/schedules/1/", "/schedules/oncall-now/", "/schedules/mine.ics"]
)
def test_it_requires_a_login(db, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_lists_schedules_with_who_is_on_call(floor, schedule, bob):
    response = floor.client_for(floor.alice).get("/schedules/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Primary" in page
    assert "<strong>bob</strong>" in page
    assert f'href="/schedules/{schedule.pk}/"' in page
    assert "No gaps" in page


def test_it_warns_of_gaps_on_the_list(floor, gappy):
    page = floor.client_for(floor.alice).get("/schedules/").content.decode()
    assert "gaps" in page
    assert "tag danger" in page


def test_it_hides_other_teams_schedules_from_the_list(floor, schedule):
    page = floor.client_for(floor.paul).get("/schedules/").content.decode()
    assert "Primary" not in page
    assert "No on-call schedules yet" in page


def test_it_refuses_a_post_to_the_list(floor):
    assert floor.client_for(floor.alice).post("/schedules/").status_code == 405


# --- the grid ------------------------------------------------------------------------------


def test_it_shows_two_weeks_of_shifts(floor, schedule, bob, today):
    response = floor.client_for(floor.alice).get(f"/schedules/{schedule.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert len(re.findall(r'class="grid-day( today)?"', page)) == 14
    assert page.count('class="block shift') >= 14
    assert 'class="block gap' not in page
    assert "bob" in page and "alice" in page
    assert "<form" in page and "Add an override" in page


def test_it_shows_gaps_in_red_and_as_a_warning(floor, gappy):
    page = floor.client_for(floor.alice).get(f"/schedules/{gappy.pk}/").content.decode()
    assert 'class="block gap' in page
    assert "gap-warning" in page
    assert "Nobody is on call" in page


def test_it_shows_times_in_the_schedules_zone(floor, gappy):
    page = floor.client_for(floor.alice).get(f"/schedules/{gappy.pk}/").content.decode()
    assert "Times in Europe/Berlin" in page
    assert "09:00\N{EN DASH}17:00" in page


def test_it_shows_a_daylight_saving_day_as_23_hours(floor, gappy):
    page = (
        floor.client_for(floor.alice)
        .get(f"/schedules/{gappy.pk}/", {"start": "2025-03-24"})
        .content.decode()
    )
    assert "Sun 30 Mar" in page
    assert ">23 h<" in page
    # 09:00-17:00 on Monday 24 March fills 8/24 of the day from 37.5%.
    assert "top:37.500%;height:33.333%" in page


def test_it_highlights_overrides(floor, schedule, bob, midnight):
    schedule_override_create(
        schedule=schedule,
        user=floor.manager,
        start=midnight + timedelta(days=1, hours=2),
        end=midnight + timedelta(days=1, hours=6),
    )
    page = floor.client_for(floor.alice).get(f"/schedules/{schedule.pk}/").content.decode()
    assert 'class="block override' in page
    assert re.search(r'block override[^>]*>\s*<span class="block-name">manager<', page)


def test_it_hides_the_grid_from_outsiders(floor, schedule):
    assert floor.client_for(floor.paul).get(f"/schedules/{schedule.pk}/").status_code == 404
    assert floor.client_for(floor.alice).get("/schedules/999999/").status_code == 404


def test_it_hides_the_form_from_an_observer(floor, schedule):
    page = floor.client_for(floor.olga).get(f"/schedules/{schedule.pk}/").content.decode()
    assert "Primary" in page
    assert "Add an override" not in page


# --- the override form ---------------------------------------------------------------------


def test_it_adds_an_override_through_the_htmx_form(floor, schedule, bob, midnight):
    client = floor.client_for(floor.alice)
    response = client.post(
        f"/schedules/{schedule.pk}/overrides/",
        override_form(floor, midnight, replaces=str(bob.pk)),
        **HTMX,
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert 'id="schedule-body"' in fragment
    assert "Override added." in fragment
    assert 'class="block override' in fragment  # the grid shows it at once
    override = ScheduleOverride.objects.get()
    assert (override.user, override.replaces, override.created_by) == (
        floor.alice,
        bob,
        floor.alice,
    )
    assert override.start == midnight + timedelta(days=2, hours=8)  # a UTC schedule
    assert "swap with bob" in fragment


def test_it_reads_form_times_on_the_schedules_clock(floor, gappy):
    floor.client_for(floor.alice).post(
        f"/schedules/{gappy.pk}/overrides/",
        {"user": floor.alice.pk, "start": "2030-07-01T09:00", "end": "2030-07-01T17:00"},
        **HTMX,
    )
    assert ScheduleOverride.objects.get().start == datetime(2030, 7, 1, 7, tzinfo=UTC)


def test_it_answers_a_refused_override_with_the_reason(floor, schedule, midnight):
    response = floor.client_for(floor.alice).post(
        f"/schedules/{schedule.pk}/overrides/",
        override_form(floor, midnight, end=override_form(floor, midnight)["start"]),
        **HTMX,
    )
    assert response.status_code == 400
    fragment = response.content.decode()
    assert "must be after the start" in fragment
    assert 'value="swap with bob"' in fragment  # what was typed is kept
    assert not ScheduleOverride.objects.exists()


def test_it_refuses_the_form_to_an_observer(floor, schedule, midnight):
    response = floor.client_for(floor.olga).post(
        f"/schedules/{schedule.pk}/overrides/", override_form(floor, midnight), **HTMX
    )
    assert response.status_code == 403
    assert "members and managers" in response.content.decode()
    assert not ScheduleOverride.objects.exists()


def test_it_answers_404_to_an_outsider_posting_the_form(floor, schedule, midnight):
    response = floor.client_for(floor.paul).post(
        f"/schedules/{schedule.pk}/overrides/", override_form(floor, midnight), **HTMX
    )
    assert response.status_code == 404


def test_it_refuses_a_get_on_the_form(floor, schedule):
    response = floor.client_for(floor.alice).get(f"/schedules/{schedule.pk}/overrides/")
    assert response.status_code == 405


def test_it_lets_a_member_remove_their_override(floor, schedule, bob, midnight):
    override = schedule_override_create(
        schedule=schedule,
        user=floor.alice,
        start=midnight + timedelta(days=1),
        end=midnight + timedelta(days=2),
        created_by=floor.alice,
    )
    url = f"/schedules/{schedule.pk}/overrides/{override.pk}/delete/"
    assert floor.client_for(bob).post(url, **HTMX).status_code == 403
    response = floor.client_for(floor.alice).post(url, **HTMX)
    assert response.status_code == 200
    assert "Override removed." in response.content.decode()
    assert 'class="block override' not in response.content.decode()
    assert not ScheduleOverride.objects.exists()


# --- downloads and the board panel ---------------------------------------------------------


def test_it_downloads_the_calendar(floor, schedule):
    response = floor.client_for(floor.alice).get(f"/schedules/{schedule.pk}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")
    mine = floor.client_for(floor.alice).get("/schedules/mine.ics")
    assert b"On call: First line (alice)" in mine.content


def test_it_shows_who_is_on_call_per_team_in_the_panel(floor, schedule, bob, gappy):
    response = floor.client_for(floor.dave).get("/schedules/oncall-now/", **HTMX)
    assert response.status_code == 200
    panel = response.content.decode()
    assert 'id="oncall-now"' in panel
    assert "First line" in panel
    assert ">bob</span>" in panel
    assert 'hx-trigger="every 60s"' in panel


def test_it_flags_a_schedule_with_nobody_on_call_in_the_panel(floor, gappy):
    # Sundays are outside the office layer: pick one by asking for the panel at a fixed time.
    from django.template.loader import render_to_string

    from teams.selectors import oncall_board_context

    sunday = datetime.combine(date(2030, 7, 7), time(12), tzinfo=UTC)
    html = render_to_string(
        "teams/_oncall_now.html", oncall_board_context(user=floor.alice, at=sunday)
    )
    assert "Nobody on call: Office hours" in html
