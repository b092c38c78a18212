"""The escalation API: policies with ordered steps (CRUD, validation per step kind, one default
per team, who may read and write), an incident's notifications and its escalation state."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import escalation_engine as engine
from incidents import services
from incidents.escalation_models import Escalation, EscalationPolicy, EscalationStep
from teams.models import ContactMethod
from tests.base import api_client_for

URL = "/api/v1/escalation-policies/"
HOOK = "https://hooks.slack.example/services/T000/B000/s3cr3t"


def send(client, method: str, url: str, body=None):
    return getattr(client, method)(
        url, data=json.dumps(body or {}), content_type="application/json"
    )


@pytest.fixture
def manager(floor):
    return api_client_for(floor.manager)


def a_policy(manager, **fields):
    body = {
        "name": "First line",
        "team": "first-line",
        "steps": [{"kind": "notify_users", "users": ["alice"], "wait_minutes": 5}],
        **fields,
    }
    response = send(manager, "post", URL, body)
    assert response.status_code == 201, response.json()
    return response.json()


# --- policies: CRUD ------------------------------------------------------------------------


def test_it_creates_a_policy_with_its_steps_in_order(manager, dba_schedule):
    response = send(
        manager,
        "post",
        URL,
        {
            "name": "Database",
            "team": "dba",
            "is_default": True,
            "ack_timeout_minutes": 30,
            "time_zone": "Europe/Berlin",
            "steps": [
                {"position": 30, "kind": "notify_manager", "team": "dba"},
                {"position": 10, "kind": "notify_users", "users": ["alice"], "wait_minutes": 5},
                {"position": 20, "kind": "notify_schedule", "schedule_id": dba_schedule.pk},
                {"position": 40, "kind": "repeat", "repeat_times": 2, "repeat_from": 2},
            ],
        },
    )

    assert response.status_code == 201, response.json()
    policy = response.json()
    assert (policy["team"], policy["is_default"], policy["ack_timeout_minutes"]) == (
        "dba",
        True,
        30,
    )
    assert [(s["position"], s["kind"]) for s in policy["steps"]] == [
        (1, "notify_users"),
        (2, "notify_schedule"),
        (3, "notify_manager"),
        (4, "repeat"),
    ]
    assert policy["steps"][0]["users"] == ["alice"]
    assert policy["steps"][1]["schedule_id"] == dba_schedule.pk
    assert policy["steps"][2]["team"] == "dba"
    assert manager.get(f"{URL}{policy['id']}/").json() == policy


def test_it_lists_the_policies_paginated(manager):
    a_policy(manager)
    a_policy(manager, name="DBA", team="dba", steps=[])

    response = manager.get(URL)

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [p["name"] for p in response.json()["results"]] == ["DBA", "First line"]


def test_it_replaces_the_steps_on_patch_and_keeps_the_rest(manager):
    policy = a_policy(manager, description="keep me")

    response = send(
        manager,
        "patch",
        f"{URL}{policy['id']}/",
        {"steps": [{"kind": "wait", "wait_minutes": 2}, {"kind": "notify_team"}]},
    )

    assert response.status_code == 200, response.json()
    changed = response.json()
    assert [s["kind"] for s in changed["steps"]] == ["wait", "notify_team"]
    assert [s["position"] for s in changed["steps"]] == [1, 2]
    assert (changed["name"], changed["description"]) == ("First line", "keep me")


def test_it_puts_the_whole_policy_and_needs_its_steps(manager):
    policy = a_policy(manager, description="old")
    url = f"{URL}{policy['id']}/"

    missing = send(manager, "put", url, {"name": "Renamed", "team": "first-line"})
    assert missing.status_code == 400
    assert "steps" in missing.json()["fields"]

    response = send(manager, "put", url, {"name": "Renamed", "team": "first-line", "steps": []})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Renamed", "")
    assert response.json()["steps"] == []


def test_it_deletes_a_policy_and_running_escalations_keep_their_snapshot(manager, floor):
    policy = a_policy(manager, is_default=True)
    incident = services.incident_open(team=floor.first_line, title="Disk", severity="SEV3")

    response = manager.delete(f"{URL}{policy['id']}/")

    assert response.status_code == 204
    assert manager.get(f"{URL}{policy['id']}/").status_code == 404
    escalation = Escalation.objects.get(incident=incident)
    assert (escalation.policy, escalation.snapshot["name"]) == (None, "First line")


def test_it_refuses_the_wrong_method(manager):
    policy = a_policy(manager)
    assert manager.post(f"{URL}{policy['id']}/").status_code == 405
    assert manager.delete(URL).status_code == 405


# --- one default per team ------------------------------------------------------------------


def test_a_new_default_replaces_the_old_one(manager):
    first = a_policy(manager, name="Day", is_default=True)
    second = a_policy(manager, name="Night", is_default=True)

    defaults = EscalationPolicy.objects.filter(team__slug="first-line", is_default=True)
    assert list(defaults.values_list("pk", flat=True)) == [second["id"]]

    response = send(manager, "patch", f"{URL}{first['id']}/", {"is_default": True})
    assert response.status_code == 200
    assert list(defaults.values_list("pk", flat=True)) == [first["id"]]


def test_defaults_of_other_teams_stay(manager):
    a_policy(manager, name="DBA", team="dba", is_default=True, steps=[])
    a_policy(manager, name="First line", is_default=True)

    assert EscalationPolicy.objects.filter(is_default=True).count() == 2


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"kind": "notify_schedule"}, "steps[0].schedule_id"),
        ({"kind": "notify_schedule", "schedule_id": 999999}, "steps[0].schedule_id"),
        ({"kind": "notify_users"}, "steps[0].users"),
        ({"kind": "round_robin", "users": []}, "steps[0].users"),
        ({"kind": "notify_users", "users": ["nobody"]}, "steps[0].users"),
        ({"kind": "notify_team", "team": "no-such-team"}, "steps[0].team"),
        ({"kind": "webhook"}, "steps[0].webhook_url"),
        ({"kind": "webhook", "webhook_url": "ftp://example.org/x"}, "steps[0].webhook_url"),
        ({"kind": "webhook", "webhook_url": "not a url"}, "steps[0].webhook_url"),
        (
            {"kind": "webhook", "webhook_url": "http://example.org/x", "webhook_format": "slack"},
            "steps[0].webhook_url",
        ),
        ({"kind": "wait", "wait_minutes": -1}, "steps[0].wait_minutes"),
        ({"kind": "wait", "condition": {"hours": 3}}, "steps[0].condition"),
        ({"kind": "wait", "condition": {"weekdays": [7]}}, "steps[0].condition"),
        ({"kind": "wait", "condition": {"weekdays": []}}, "steps[0].condition"),
        ({"kind": "wait", "condition": {"from": "25:00", "to": "08:00"}}, "steps[0].condition"),
        ({"kind": "wait", "condition": {"from": "08:00"}}, "steps[0].condition"),
        ({"kind": "wait", "condition": {"severities": ["SEV5"]}}, "steps[0].condition"),
        ({"kind": "repeat", "repeat_times": 1, "repeat_from": 1}, "steps[0].repeat_from"),
        ({"kind": "teleport"}, "steps[0].kind"),
        ({"kind": "wait", "wait_minutes": "soon"}, "steps[0].wait_minutes"),
    ],
)
def test_it_refuses_a_step_that_cannot_work(manager, step, field):
    response = send(manager, "post", URL, {"name": "P", "team": "first-line", "steps": [step]})

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid input"
    assert field in body["fields"], body
    assert not EscalationPolicy.objects.exists()


@pytest.mark.parametrize(
    ("repeat", "field"),
    [
        ({"repeat_times": 0, "repeat_from": 1}, "steps[1].repeat_times"),
        ({"repeat_times": 1, "repeat_from": 2}, "steps[1].repeat_from"),
        ({"repeat_times": 1, "repeat_from": 0}, "steps[1].repeat_from"),
    ],
)
def test_it_checks_a_repeat_against_the_steps_before_it(manager, repeat, field):
    steps = [{"kind": "notify_users", "users": ["alice"]}, {"kind": "repeat", **repeat}]

    response = send(manager, "post", URL, {"name": "P", "team": "first-line", "steps": steps})

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_it_names_the_step_as_given_even_when_positions_reorder_them(manager):
    steps = [
        {"position": 2, "kind": "notify_users"},
        {"position": 1, "kind": "wait"},
    ]

    response = send(manager, "post", URL, {"name": "P", "team": "first-line", "steps": steps})

    assert list(response.json()["fields"]) == ["steps[0].users"]


def test_it_refuses_duplicate_positions_and_bad_policy_fields(manager):
    body = {
        "name": "P",
        "team": "first-line",
        "time_zone": "Mars/Olympus",
        "ack_timeout_minutes": -5,
        "steps": [{"position": 1, "kind": "wait"}, {"position": 1, "kind": "wait"}],
    }

    fields = send(manager, "post", URL, body).json()["fields"]

    assert {"time_zone", "ack_timeout_minutes", "steps"} <= set(fields)


def test_it_refuses_too_many_steps(manager):
    steps = [{"kind": "wait"}] * 51

    response = send(manager, "post", URL, {"name": "P", "team": "first-line", "steps": steps})

    assert response.status_code == 400
    assert "steps" in response.json()["fields"]


def test_it_accepts_business_hours_and_nights(manager):
    business = {"weekdays": [0, 1, 2, 3, 4], "from": "08:00", "to": "18:00"}
    nights = {"from": "18:00", "to": "08:00", "severities": ["SEV1", "SEV2"]}
    steps = [
        {"kind": "notify_users", "users": ["alice"], "condition": business},
        {"kind": "notify_manager", "condition": nights},
    ]

    policy = a_policy(manager, steps=steps)

    assert [s["condition"] for s in policy["steps"]] == [business, nights]


def test_it_clears_the_fields_a_kind_does_not_use(manager):
    steps = [{"kind": "notify_team", "users": ["alice"], "webhook_url": HOOK, "repeat_times": 4}]

    step = a_policy(manager, steps=steps)["steps"][0]

    assert (step["users"], step["webhook_url"], step["repeat_times"]) == ([], "", 0)


def test_editing_a_policy_keeps_a_round_robin_going(manager):
    rotation = {"kind": "round_robin", "users": ["alice", "dave"]}
    policy = a_policy(manager, steps=[rotation])
    EscalationStep.objects.filter(policy_id=policy["id"]).update(round_robin_cursor=1)
    url = f"{URL}{policy['id']}/"

    send(manager, "patch", url, {"steps": [rotation, {"kind": "notify_manager"}]})
    assert EscalationStep.objects.get(policy_id=policy["id"], position=1).round_robin_cursor == 1

    send(manager, "patch", url, {"steps": [{"kind": "round_robin", "users": ["alice"]}]})
    assert EscalationStep.objects.get(policy_id=policy["id"]).round_robin_cursor == 0


def test_a_failed_update_changes_nothing(manager):
    policy = a_policy(manager)

    response = send(
        manager, "patch", f"{URL}{policy['id']}/", {"name": "X", "steps": [{"kind": "webhook"}]}
    )

    assert response.status_code == 400
    assert manager.get(f"{URL}{policy['id']}/").json() == policy


# --- who may do what -----------------------------------------------------------------------


def test_it_needs_a_token(client, floor):
    assert client.get(URL).status_code == 401
    assert client.post(URL, {}).status_code == 401


def test_staff_read_but_only_managers_write(manager, floor):
    policy = a_policy(manager)
    alice = api_client_for(floor.alice)

    assert alice.get(URL).json()["count"] == 1
    assert alice.get(f"{URL}{policy['id']}/").status_code == 200
    assert send(alice, "post", URL, {"name": "x", "team": "first-line"}).status_code == 403
    assert send(alice, "patch", f"{URL}{policy['id']}/", {"name": "x"}).status_code == 403
    assert alice.delete(f"{URL}{policy['id']}/").status_code == 403
    assert "error" in alice.delete(f"{URL}{policy['id']}/").json()


def test_an_outsider_sees_only_their_own_teams_policies(manager, floor):
    policy = a_policy(manager)
    own = a_policy(manager, name="Payments", team="payments-app", steps=[])
    paul = api_client_for(floor.paul)

    assert [p["id"] for p in paul.get(URL).json()["results"]] == [own["id"]]
    assert paul.get(f"{URL}{policy['id']}/").status_code == 404
    assert send(paul, "patch", f"{URL}{policy['id']}/", {"name": "x"}).status_code == 404
    assert paul.delete(f"{URL}{policy['id']}/").status_code == 404


def test_webhook_urls_are_masked_for_readers_who_are_not_managers(manager, floor):
    policy = a_policy(
        manager, steps=[{"kind": "webhook", "webhook_url": HOOK, "webhook_format": "slack"}]
    )
    assert policy["steps"][0]["webhook_url"] == HOOK

    response = api_client_for(floor.alice).get(f"{URL}{policy['id']}/")

    assert response.json()["steps"][0]["webhook_url"] == "https://hooks.slack.example/…"
    assert "s3cr3t" not in response.content.decode()


# --- an incident's notifications and escalation --------------------------------------------


@pytest.fixture
def paged_incident(manager, floor, dba_schedule):
    ContactMethod.objects.create(user=floor.alice, kind="email", address="alice@example.org")
    a_policy(
        manager,
        is_default=True,
        steps=[
            {"kind": "notify_users", "users": ["alice"], "wait_minutes": 10},
            {"kind": "webhook", "webhook_url": HOOK, "webhook_format": "slack"},
            {"kind": "notify_schedule", "schedule_id": dba_schedule.pk},
        ],
    )
    incident = services.incident_open(team=floor.first_line, title="Disk", severity="SEV3")
    engine.escalations_run_due()
    engine.escalations_run_due(now=timezone.now() + timedelta(minutes=11))
    return incident


def test_it_lists_an_incidents_notifications_with_webhooks_masked(manager, paged_incident):
    response = manager.get(f"/api/v1/incidents/{paged_incident.pk}/notifications/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["user"], r["channel"], r["step"]) for r in rows] == [
        ("alice", "email", 1),
        (None, "slack", 2),
    ]
    assert rows[0]["address"] == "alice@example.org"
    assert rows[1]["address"] == "https://hooks.slack.example/…"
    assert {"purpose", "status", "attempts", "due_at", "sent_at", "last_error", "run"} <= set(
        rows[0]
    )
    assert "s3cr3t" not in response.content.decode()


def test_it_shows_where_the_escalation_stands(manager, paged_incident):
    response = manager.get(f"/api/v1/incidents/{paged_incident.pk}/escalation/")

    assert response.status_code == 200
    state = response.json()
    assert (state["state"], state["run"], state["policy"]) == ("active", 1, "First line")
    assert (state["step"], state["next_step_number"]) == ("2 of 3", 3)
    assert state["next_step"] == "notify the on-call of DBA on-call"
    assert state["summary"].startswith("Step 2 of 3, next: notify the on-call of DBA on-call at ")
    assert state["next_at"] and state["ack_deadline"] is None


def test_an_incident_without_a_policy_has_no_escalation(manager, floor):
    incident = services.incident_open(team=floor.dba, title="Disk", severity="SEV3")

    state = manager.get(f"/api/v1/incidents/{incident.pk}/escalation/").json()

    assert state["state"] is None
    assert manager.get(f"/api/v1/incidents/{incident.pk}/notifications/").json()["count"] == 0


def test_an_incident_you_may_not_see_is_a_404(paged_incident, floor, client):
    paul = api_client_for(floor.paul)
    for path in ("notifications", "escalation"):
        url = f"/api/v1/incidents/{paged_incident.pk}/{path}/"
        assert paul.get(url).status_code == 404
        assert client.get(url).status_code == 401
        assert api_client_for(floor.olga).get(url).status_code == 200  # an observer reads
        assert api_client_for(floor.alice).post(url).status_code == 405
