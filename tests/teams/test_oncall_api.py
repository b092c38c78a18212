"""The schedule, on-call, contact-method and notification-rule API, and the selectors the
escalation engine calls."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from teams.models import ContactMethod, Schedule, ScheduleOverride
from teams.selectors import (
    notification_plan_for,
    oncall_board_context,
    schedule_oncall_now,
    team_managers,
    team_oncall_next,
    team_oncall_now,
)
from teams.services import (
    LayerInput,
    contact_method_create,
    notification_rule_create,
    schedule_create,
    schedule_override_create,
)
from tests.base import api_client_for

JSON = "application/json"


def layer_body(**changes) -> dict:
    body = {
        "name": "weekly",
        "rotation_kind": "weekly",
        "start": "2025-03-03",
        "handoff_time": "09:00",
        "members": ["alice", "manager"],
    }
    return {**body, **changes}


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/schedules/",
        "/api/v1/schedules/1/",
        "/api/v1/schedules/1/overrides/",
        "/api/v1/schedules/1/ical",
        "/api/v1/users/1/ical",
        "/api/v1/teams/first-line/oncall/",
        "/api/v1/users/1/contact-methods/",
        "/api/v1/users/1/notification-rules/",
    ],
)
def test_it_answers_401_without_a_token(db, path):
    response = Client().get(path)
    assert response.status_code == 401
    assert "error" in response.json()


def test_it_answers_401_for_an_import_without_a_token(schedule):
    response = Client().post(
        f"/api/v1/schedules/{schedule.pk}/import/", "BEGIN:VCALENDAR", content_type="text/calendar"
    )
    assert response.status_code == 401


# --- schedules -----------------------------------------------------------------------------


def test_it_lists_schedules_with_layers_overrides_gaps_and_oncall(floor, schedule, bob):
    response = api_client_for(floor.alice).get("/api/v1/schedules/")
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["team"] == "first-line"
    assert item["time_zone"] == "UTC"
    [layer] = item["layers"]
    assert layer["members"] == ["alice", "bob"]
    assert layer["rotation_kind"] == "daily"
    assert layer["handoff_time"] == "00:00:00"
    assert item["overrides"] == []
    assert item["gaps"] == []
    assert [e["username"] for e in item["oncall"]["now"]] == ["bob"]
    assert [e["username"] for e in item["oncall"]["next"]] == ["alice"]


def test_it_hides_other_teams_schedules_from_outside_members(floor, schedule):
    api = api_client_for(floor.paul)
    assert api.get("/api/v1/schedules/").json()["results"] == []
    assert api.get(f"/api/v1/schedules/{schedule.pk}/").status_code == 404
    assert api.get(f"/api/v1/schedules/{schedule.pk}/ical").status_code == 404


def test_it_lets_a_manager_create_a_schedule_with_layers(floor):
    body = {
        "team": "first-line",
        "name": "Follow the sun",
        "time_zone": "Europe/Berlin",
        "layers": [
            layer_body(),
            layer_body(
                name="office hours",
                position=1,
                rotation_kind="daily",
                members=["alice"],
                restriction={"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
            ),
            layer_body(
                name="twelve", rotation_kind="custom", shift_length="12:00:00", members=["manager"]
            ),
        ],
    }
    response = api_client_for(floor.manager).post("/api/v1/schedules/", body, content_type=JSON)
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["time_zone"] == "Europe/Berlin"
    layers = {layer["name"]: layer for layer in created["layers"]}
    assert layers["office hours"]["restriction"] == {
        "days": [0, 1, 2, 3, 4],
        "start": "09:00:00",
        "end": "17:00:00",
    }
    assert layers["twelve"]["shift_length"] == "12:00:00"
    assert layers["weekly"]["members"] == ["alice", "manager"]
    # The highest precedence comes first.
    assert created["layers"][0]["name"] == "office hours"
    assert Schedule.objects.get(pk=created["id"]).team == floor.first_line


def test_it_refuses_a_schedule_from_a_member(floor):
    response = api_client_for(floor.alice).post(
        "/api/v1/schedules/", {"team": "first-line", "name": "Mine"}, content_type=JSON
    )
    assert response.status_code == 403
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"team": "no-such-team"}, "team"),
        ({"layers": [layer_body(rotation_kind="custom")]}, "layers[0].shift_length"),
        ({"layers": [layer_body(members=["paul"])]}, "layers[0].members"),
        (
            {"layers": [layer_body(restriction={"days": [], "start": "09:00", "end": None})]},
            "layers[0].restriction",
        ),
    ],
)
def test_it_refuses_a_bad_schedule_with_the_field(floor, changes, field):
    body = {"team": "first-line", "name": "Bad", **changes}
    response = api_client_for(floor.manager).post("/api/v1/schedules/", body, content_type=JSON)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Schedule.objects.exists()


def test_it_refuses_a_second_schedule_of_the_same_name(floor, schedule):
    response = api_client_for(floor.manager).post(
        "/api/v1/schedules/", {"team": "first-line", "name": "Primary"}, content_type=JSON
    )
    assert response.status_code == 400
    assert "name" in response.json()["fields"]


def test_it_lets_a_manager_patch_a_schedule_and_replace_its_layers(floor, schedule):
    response = api_client_for(floor.manager).patch(
        f"/api/v1/schedules/{schedule.pk}/",
        {"name": "Renamed", "layers": [layer_body(members=["manager"])]},
        content_type=JSON,
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["name"] == "Renamed"
    assert [layer["members"] for layer in body["layers"]] == [["manager"]]
    assert body["time_zone"] == "UTC"  # not given: unchanged


def test_it_keeps_the_layers_on_a_patch_without_them(floor, schedule):
    response = api_client_for(floor.manager).patch(
        f"/api/v1/schedules/{schedule.pk}/", {"description": "24/7"}, content_type=JSON
    )
    assert response.status_code == 200
    assert len(response.json()["layers"]) == 1


def test_it_refuses_a_members_patch_or_delete(floor, schedule):
    api = api_client_for(floor.alice)
    url = f"/api/v1/schedules/{schedule.pk}/"
    assert api.patch(url, {"name": "x"}, content_type=JSON).status_code == 403
    assert api.delete(url).status_code == 403
    assert Schedule.objects.filter(pk=schedule.pk, name="Primary").exists()


def test_it_lets_a_manager_delete_a_schedule(floor, schedule):
    api = api_client_for(floor.manager)
    assert api.delete(f"/api/v1/schedules/{schedule.pk}/").status_code == 204
    assert api.get(f"/api/v1/schedules/{schedule.pk}/").status_code == 404


def test_it_shows_the_gaps_of_the_next_two_weeks(floor, today):
    business = schedule_create(
        team=floor.first_line,
        name="Office",
        time_zone="UTC",
        layers=[
            LayerInput(
                name="office",
                start=today,
                rotation_kind="daily",
                handoff_time=time(9),
                users=[floor.alice],
                restrict_days="01234",
                restrict_start=time(9),
                restrict_end=time(17),
            )
        ],
    )
    gaps = api_client_for(floor.alice).get(f"/api/v1/schedules/{business.pk}/").json()["gaps"]
    assert len(gaps) >= 10
    first_start = datetime.fromisoformat(gaps[0]["start"])
    assert first_start.tzinfo is not None
    last_end = datetime.fromisoformat(gaps[-1]["end"])
    assert last_end - first_start <= timedelta(days=14)


# --- overrides -----------------------------------------------------------------------------


def test_it_lets_a_member_add_an_override_that_takes_over_now(floor, schedule, bob, midnight):
    response = api_client_for(floor.alice).post(
        f"/api/v1/schedules/{schedule.pk}/overrides/",
        {
            "user": "alice",
            "start": midnight.isoformat(),
            "end": (midnight + timedelta(days=1)).isoformat(),
            "replaces": "bob",
            "reason": "dentist",
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.json()
    [made] = response.json()["overrides"]
    assert (made["user"], made["replaces"], made["created_by"]) == ("alice", "bob", "alice")
    oncall = api_client_for(floor.alice).get("/api/v1/teams/first-line/oncall/").json()
    assert [(e["username"], e["override"]) for e in oncall["now"]] == [("alice", True)]


def test_it_reads_a_time_without_offset_in_the_schedules_zone(floor, schedule):
    schedule.time_zone = "Europe/Berlin"
    schedule.save()
    response = api_client_for(floor.alice).post(
        f"/api/v1/schedules/{schedule.pk}/overrides/",
        {"user": "alice", "start": "2030-07-01T09:00", "end": "2030-07-01T17:00"},
        content_type=JSON,
    )
    assert response.status_code == 201, response.json()
    override = ScheduleOverride.objects.get()
    assert override.start == datetime(2030, 7, 1, 7, 0, tzinfo=UTC)


def test_it_makes_a_swap_of_two_crossing_overrides(floor, schedule, bob, midnight):
    response = api_client_for(floor.manager).post(
        f"/api/v1/schedules/{schedule.pk}/overrides/",
        {
            "user": "alice",
            "replaces": "bob",
            "start": midnight.isoformat(),
            "end": (midnight + timedelta(days=1)).isoformat(),
            "return_start": (midnight + timedelta(days=1)).isoformat(),
            "return_end": (midnight + timedelta(days=2)).isoformat(),
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.json()
    made = response.json()["overrides"]
    assert [(o["user"], o["replaces"]) for o in made] == [("alice", "bob"), ("bob", "alice")]
    assert team_oncall_now(team=floor.first_line) == [floor.alice]
    tomorrow = midnight + timedelta(days=1, hours=12)
    assert team_oncall_now(team=floor.first_line, at=tomorrow) == [bob]


def test_it_refuses_an_override_from_an_observer(floor, schedule, midnight):
    response = api_client_for(floor.olga).post(
        f"/api/v1/schedules/{schedule.pk}/overrides/",
        {"user": "alice", "start": midnight.isoformat(), "end": "2099-01-01T00:00Z"},
        content_type=JSON,
    )
    assert response.status_code == 403
    assert "error" in response.json()


def test_it_refuses_an_override_from_another_teams_member(floor, schedule, midnight):
    # Dave (DBA, inside the IOC) sees the first line's schedule but is not on its team.
    body = {"user": "alice", "start": midnight.isoformat(), "end": "2099-01-01T00:00Z"}
    api = api_client_for(floor.dave)
    assert api.get(f"/api/v1/schedules/{schedule.pk}/").status_code == 200
    response = api.post(f"/api/v1/schedules/{schedule.pk}/overrides/", body, content_type=JSON)
    assert response.status_code == 403
    outsider = api_client_for(floor.paul)
    response = outsider.post(f"/api/v1/schedules/{schedule.pk}/overrides/", body, content_type=JSON)
    assert response.status_code == 404
    assert not ScheduleOverride.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user": "paul"}, "user"),  # not on the team
        ({"end": "2020-01-01T00:00Z"}, "end"),  # before the start
        ({"start": "tomorrow"}, "start"),
        ({"replaces": "alice"}, "replaces"),  # herself
        ({"return_start": "2030-01-03T00:00Z"}, "return_end"),  # half a swap
    ],
)
def test_it_refuses_a_bad_override_with_the_field(floor, schedule, bob, changes, field):
    body = {"user": "alice", "start": "2030-01-01T00:00Z", "end": "2030-01-02T00:00Z"}
    if "return_start" in changes:
        body["replaces"] = "bob"
    body.update(changes)
    response = api_client_for(floor.alice).post(
        f"/api/v1/schedules/{schedule.pk}/overrides/", body, content_type=JSON
    )
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not ScheduleOverride.objects.exists()


def test_it_lists_and_deletes_overrides(floor, schedule, bob, midnight):
    override = schedule_override_create(
        schedule=schedule,
        user=floor.alice,
        start=midnight,
        end=midnight + timedelta(days=2),
        created_by=floor.alice,
    )
    url = f"/api/v1/schedules/{schedule.pk}/overrides/"
    listed = api_client_for(floor.dave).get(url).json()["results"]
    assert [o["id"] for o in listed] == [override.pk]
    # Bob neither made it nor is on it; a manager or Alice may remove it.
    assert api_client_for(bob).delete(f"{url}{override.pk}/").status_code == 403
    assert api_client_for(floor.alice).delete(f"{url}{override.pk}/").status_code == 204
    assert api_client_for(floor.alice).delete(f"{url}{override.pk}/").status_code == 404


# --- who is on call ------------------------------------------------------------------------


def test_it_answers_who_is_on_call_now_and_next(floor, schedule, midnight):
    response = api_client_for(floor.alice).get("/api/v1/teams/first-line/oncall/")
    assert response.status_code == 200
    body = response.json()
    [now] = body["now"]
    assert set(now) >= {"user", "username", "schedule", "layer", "from", "until"}
    assert now["username"] == "bob"
    assert now["schedule"] == schedule.pk
    assert now["layer"] == "daily"
    assert datetime.fromisoformat(now["from"]) == midnight
    assert datetime.fromisoformat(now["until"]) == midnight + timedelta(days=1)
    [upcoming] = body["next"]
    assert upcoming["username"] == "alice"
    assert datetime.fromisoformat(upcoming["from"]) == midnight + timedelta(days=1)


def test_it_answers_an_empty_oncall_for_a_team_without_schedules(floor):
    body = api_client_for(floor.dave).get("/api/v1/teams/dba/oncall/").json()
    assert (body["now"], body["next"]) == ([], [])


def test_it_hides_a_teams_oncall_from_outsiders(floor, schedule):
    assert api_client_for(floor.paul).get("/api/v1/teams/first-line/oncall/").status_code == 404
    assert api_client_for(floor.alice).get("/api/v1/teams/nope/oncall/").status_code == 404


def test_it_answers_the_escalation_selectors_with_users(floor, schedule, bob, midnight):
    assert team_oncall_now(team=floor.first_line) == [bob]
    assert team_oncall_next(team=floor.first_line) == [floor.alice]
    assert schedule_oncall_now(schedule=schedule, at=midnight - timedelta(hours=1)) == [floor.alice]
    assert team_managers(team=floor.first_line) == [floor.manager]
    assert team_oncall_now(team=floor.dba) == []


def test_it_answers_the_escalations_without_looking_for_who_is_next(
    floor, schedule, bob, midnight, monkeypatch
):
    # Paging only wants who is on call now; finding who is next may scan 90 days.
    def unwanted(*args, **kwargs):
        raise AssertionError("next_oncall is not needed for who is on call now")

    monkeypatch.setattr("teams.selectors.next_oncall", unwanted)
    assert team_oncall_now(team=floor.first_line) == [bob]
    assert schedule_oncall_now(schedule=schedule, at=midnight - timedelta(hours=1)) == [floor.alice]


def test_it_drops_a_deactivated_person_out_of_the_rotation(floor, schedule, bob):
    bob.is_active = False
    bob.save()
    assert team_oncall_now(team=floor.first_line) == [floor.alice]


def test_it_builds_the_board_context_in_a_fixed_number_of_queries(
    floor, schedule, bob, django_assert_max_num_queries
):
    for number in range(5):
        schedule_create(
            team=floor.dba,
            name=f"DBA {number}",
            layers=[LayerInput(name="l", start=schedule.layers.get().start, users=[floor.dave])],
        )
    with django_assert_max_num_queries(6):
        context = oncall_board_context(user=floor.alice)
    teams = {row["team"].slug: row for row in context["oncall_teams"]}
    assert [e.user for e in teams["first-line"]["now"]] == [bob]
    assert len(teams["dba"]["now"]) == 5


# --- contact methods -----------------------------------------------------------------------


def test_it_lets_a_user_manage_their_own_contact_methods(floor):
    api = api_client_for(floor.alice)
    url = f"/api/v1/users/{floor.alice.pk}/contact-methods/"
    made = api.post(url, {"kind": "sms", "address": "+4915112345678"}, content_type=JSON)
    assert made.status_code == 201, made.json()
    assert made.json()["verified"] is False
    assert [m["kind"] for m in api.get(url).json()["results"]] == ["sms"]
    item = f"{url}{made.json()['id']}/"
    changed = api.patch(item, {"label": "work phone"}, content_type=JSON)
    assert changed.json()["label"] == "work phone"
    assert api.delete(item).status_code == 204
    assert not ContactMethod.objects.exists()


@pytest.mark.parametrize(
    ("kind", "address"),
    [
        ("sms", "0151 123"),
        ("voice", "+0123"),
        ("email", "not-an-email"),
        ("slack", "http://hooks.slack.com/x"),
        ("teams", ""),
        ("in_app", "something"),
        ("pigeon", "coop 3"),
    ],
)
def test_it_refuses_an_address_that_does_not_suit_the_kind(floor, kind, address):
    response = api_client_for(floor.alice).post(
        f"/api/v1/users/{floor.alice.pk}/contact-methods/",
        {"kind": kind, "address": address},
        content_type=JSON,
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) & {"address", "kind"}


def test_it_hides_others_contact_methods(floor):
    method = contact_method_create(user=floor.manager, kind="email", address="m@example.org")
    api = api_client_for(floor.alice)
    assert api.get(f"/api/v1/users/{floor.manager.pk}/contact-methods/").status_code == 404
    url = f"/api/v1/users/{floor.manager.pk}/contact-methods/{method.pk}/"
    assert api.delete(url).status_code == 404
    # Nor reachable through one's own id.
    assert (
        api.get(f"/api/v1/users/{floor.alice.pk}/contact-methods/{method.pk}/").status_code == 404
    )
    assert ContactMethod.objects.filter(pk=method.pk).exists()


def test_it_lets_a_manager_manage_anyones_contact_methods(floor):
    api = api_client_for(floor.manager)
    url = f"/api/v1/users/{floor.alice.pk}/contact-methods/"
    made = api.post(
        url, {"kind": "email", "address": "alice@example.org", "verified": True}, content_type=JSON
    )
    assert made.status_code == 201
    assert made.json()["verified"] is True
    assert ContactMethod.objects.get().user == floor.alice


def test_it_lets_only_a_manager_mark_a_method_verified(floor):
    response = api_client_for(floor.alice).post(
        f"/api/v1/users/{floor.alice.pk}/contact-methods/",
        {"kind": "email", "address": "alice@example.org", "verified": True},
        content_type=JSON,
    )
    assert response.status_code == 403


def test_it_unverifies_a_changed_address(floor):
    method = contact_method_create(
        user=floor.alice, kind="email", address="a@example.org", verified=True
    )
    response = api_client_for(floor.alice).patch(
        f"/api/v1/users/{floor.alice.pk}/contact-methods/{method.pk}/",
        {"address": "alice@example.org"},
        content_type=JSON,
    )
    assert response.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "kind": "email",
        "address": "alice@example.org",
        "label": "",
        "verified": False,
        "created_at": "",
    }


def test_it_answers_404_for_an_unknown_user(floor):
    missing = get_user_model().objects.order_by("-pk").first().pk + 1
    api = api_client_for(floor.manager)
    assert api.get(f"/api/v1/users/{missing}/contact-methods/").status_code == 404
    assert api.get(f"/api/v1/users/{missing}/ical").status_code == 404


# --- notification rules --------------------------------------------------------------------


def test_it_lets_a_user_set_their_notification_rules(floor):
    sms = contact_method_create(user=floor.alice, kind="sms", address="+4915112345678")
    app = contact_method_create(user=floor.alice, kind="in_app")
    api = api_client_for(floor.alice)
    url = f"/api/v1/users/{floor.alice.pk}/notification-rules/"
    for method, delay, urgency in ((sms, 5, "high"), (app, 0, "all")):
        response = api.post(
            url,
            {"contact_method": method.pk, "delay_minutes": delay, "urgency": urgency},
            content_type=JSON,
        )
        assert response.status_code == 201, response.json()
    rules = api.get(url).json()["results"]
    assert [(r["contact_method"], r["delay_minutes"]) for r in rules] == [(app.pk, 0), (sms.pk, 5)]
    changed = api.patch(f"{url}{rules[1]['id']}/", {"delay_minutes": 2}, content_type=JSON)
    assert changed.json()["delay_minutes"] == 2
    assert api.delete(f"{url}{rules[0]['id']}/").status_code == 204


def test_it_refuses_a_rule_on_someone_elses_method(floor):
    theirs = contact_method_create(user=floor.manager, kind="email", address="m@example.org")
    response = api_client_for(floor.alice).post(
        f"/api/v1/users/{floor.alice.pk}/notification-rules/",
        {"contact_method": theirs.pk, "delay_minutes": 0},
        content_type=JSON,
    )
    assert response.status_code == 400
    assert "contact_method" in response.json()["fields"]


def test_it_refuses_a_delay_over_a_day(floor):
    method = contact_method_create(user=floor.alice, kind="in_app")
    response = api_client_for(floor.alice).post(
        f"/api/v1/users/{floor.alice.pk}/notification-rules/",
        {"contact_method": method.pk, "delay_minutes": 2000},
        content_type=JSON,
    )
    assert response.status_code == 400


def test_it_hides_others_rules(floor):
    method = contact_method_create(user=floor.alice, kind="in_app")
    rule = notification_rule_create(user=floor.alice, contact_method=method)
    api = api_client_for(floor.dave)
    assert api.get(f"/api/v1/users/{floor.alice.pk}/notification-rules/").status_code == 404
    url = f"/api/v1/users/{floor.alice.pk}/notification-rules/{rule.pk}/"
    assert api.patch(url, {"delay_minutes": 9}, content_type=JSON).status_code == 404
    assert api_client_for(floor.manager).get(url).status_code == 200


def test_it_plans_in_app_and_email_at_once_without_rules(floor):
    email = contact_method_create(user=floor.alice, kind="email", address="a@example.org")
    app = contact_method_create(user=floor.alice, kind="in_app")
    contact_method_create(user=floor.alice, kind="sms", address="+4915112345678")
    plan = notification_plan_for(user=floor.alice)
    assert {(p.contact_method, p.delay_minutes, p.default) for p in plan} == {
        (email, 0, True),
        (app, 0, True),
    }


def test_it_uses_only_any_urgency_rules_for_low_urgency(floor):
    sms = contact_method_create(user=floor.alice, kind="sms", address="+4915112345678")
    app = contact_method_create(user=floor.alice, kind="in_app")
    notification_rule_create(user=floor.alice, contact_method=app, delay_minutes=0)
    notification_rule_create(user=floor.alice, contact_method=sms, delay_minutes=5, urgency="high")
    high = notification_plan_for(user=floor.alice, urgency="high")
    assert [(p.contact_method, p.delay_minutes) for p in high] == [(app, 0), (sms, 5)]
    low = notification_plan_for(user=floor.alice, urgency="low")
    assert [p.contact_method for p in low] == [app]


def test_it_leaves_a_broken_layer_out_instead_of_failing(floor, schedule, bob):
    # The services and the admin refuse this; a row changed behind their back must not take
    # the on-call answer (and the escalations that ask it) down.
    schedule.layers.update(rotation_kind="custom", shift_length=None)
    assert team_oncall_now(team=floor.first_line) == []
    response = api_client_for(floor.alice).get("/api/v1/teams/first-line/oncall/")
    assert response.status_code == 200


def test_it_lists_schedules_in_a_fixed_number_of_queries(
    floor, schedule, bob, midnight, django_assert_max_num_queries
):
    for number in range(6):
        extra = schedule_create(
            team=floor.first_line,
            name=f"Extra {number}",
            layers=[LayerInput(name="l", start=schedule.layers.get().start, users=[bob])],
        )
        schedule_override_create(
            schedule=extra,
            user=floor.alice,
            replaces=bob,
            start=midnight + timedelta(days=1),
            end=midnight + timedelta(days=2),
        )
    api = api_client_for(floor.alice)
    api.get("/api/v1/schedules/")  # the token row is made on the first call
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/schedules/")
    results = response.json()["results"]
    assert len(results) == 7
    assert all(len(item["overrides"]) == 1 for item in results if item["name"] != "Primary")


def test_it_needs_every_field_of_a_patched_layer(floor, schedule):
    response = api_client_for(floor.manager).patch(
        f"/api/v1/schedules/{schedule.pk}/", {"layers": [{"name": "half"}]}, content_type=JSON
    )
    assert response.status_code == 400
    assert {"layers[0].start", "layers[0].rotation_kind"} <= set(response.json()["fields"])
    assert schedule.layers.get().name == "daily"
