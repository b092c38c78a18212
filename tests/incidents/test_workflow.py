"""The IOC's incident procedure through the API: states, severity, roles, hand-offs, resolution,
declaring by hand, and the permissions around them."""

import pytest
from django.core import mail

from incidents.models import Incident, IncidentEvent
from incidents.services import incident_open
from tests.base import api_client_for, post_alert, process, run_concurrently


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(
        client,
        floor.token,
        {"summary": "Card API p99 over 2 s", "severity": "high", "service": "cards"},
    )
    process()
    return Incident.objects.get()


def act(user, incident, action: str, body=None):
    return api_client_for(user).post(
        f"/api/v1/incidents/{incident.pk}/{action}/", body or {}, content_type="application/json"
    )


# --- states ---


def test_it_walks_the_whole_procedure(floor, incident):
    for status in ("investigating", "identified", "mitigated"):
        response = act(floor.alice, incident, "status", {"status": status})
        assert response.status_code == 200, response.content
        assert response.json()["status"] == status
    resolved = act(
        floor.alice,
        incident,
        "resolve",
        {"resolving_team": "dba", "resolution_code": "fixed", "summary": "Index rebuilt"},
    )
    assert resolved.status_code == 200
    body = resolved.json()
    assert (body["status"], body["resolving_team"], body["resolution_code"]) == (
        "resolved",
        "dba",
        "fixed",
    )
    assert body["resolution_summary"] == "Index rebuilt"
    closed = act(floor.alice, incident, "close")
    assert closed.status_code == 200
    assert closed.json()["closed_at"] is not None
    moves = [e.data["to"] for e in incident.events.filter(kind="status_changed")]
    assert moves == ["investigating", "identified", "mitigated", "resolved", "closed"]


def test_going_backwards_is_a_409_and_changes_nothing(floor, incident):
    act(floor.alice, incident, "status", {"status": "identified"})
    response = act(floor.alice, incident, "status", {"status": "investigating"})
    assert response.status_code == 409
    assert "cannot become investigating" in response.json()["error"]
    assert act(floor.alice, incident, "acknowledge").status_code == 409
    incident.refresh_from_db()
    assert incident.status == "identified"


def test_a_fix_found_at_once_goes_straight_to_resolved(floor, incident):
    response = act(floor.alice, incident, "resolve", {"resolution_code": "self_healed"})
    assert response.status_code == 200
    assert response.json()["acknowledged_at"] is None


def test_a_bare_resolve_uses_the_owner_team_and_unspecified(floor, incident):
    body = act(floor.alice, incident, "resolve").json()
    assert (body["resolving_team"], body["resolution_code"]) == ("first-line", "unspecified")


def test_an_unknown_resolution_code_is_a_400(floor, incident):
    response = act(floor.alice, incident, "resolve", {"resolution_code": "magic"})
    assert response.status_code == 400


def test_a_resolved_incident_reopens_until_it_is_closed(floor, incident):
    act(floor.alice, incident, "resolve", {"resolution_code": "fixed"})
    reopened = act(floor.alice, incident, "reopen", {"reason": "still failing"})
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "acknowledged"
    assert reopened.json()["resolved_at"] is None
    act(floor.alice, incident, "resolve", {"resolution_code": "fixed"})
    act(floor.alice, incident, "close")
    assert act(floor.alice, incident, "reopen").status_code == 409


def test_closing_an_open_incident_is_refused(floor, incident):
    assert act(floor.alice, incident, "close").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_concurrent_acknowledge_and_resolve_leave_a_consistent_state(client):
    from tests.base import Floor

    floor = Floor()
    post_alert(client, floor.token, {"summary": "Race"})
    process()
    incident = Incident.objects.get()
    results = []

    def worker(action):
        results.append(act(floor.alice, incident, action).status_code)

    errors = run_concurrently(
        worker, [(action,) for action in ["acknowledge", "resolve"] * 3], timeout=30
    )
    assert errors == []
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert set(results) <= {200, 409}
    moves = [e.data["to"] for e in incident.events.filter(kind="status_changed")]
    # At most one acknowledgement, exactly one resolve, and never acknowledged after resolved.
    assert moves.count("resolved") == 1
    assert moves.count("acknowledged") <= 1
    assert moves[-1] == "resolved"


# --- severity and major incidents ---


def test_changing_severity_needs_a_reason(floor, incident):
    assert act(floor.alice, incident, "severity", {"severity": "SEV4"}).status_code == 409
    response = act(
        floor.alice, incident, "severity", {"severity": "SEV4", "reason": "only one customer"}
    )
    assert response.status_code == 200
    assert response.json()["severity"] == "SEV4"
    event = incident.events.get(kind="severity_changed")
    assert event.data == {"from": "SEV3", "to": "SEV4", "reason": "only one customer"}


def test_a_major_incident_needs_a_commander_and_tells_stakeholders(floor, incident, settings):
    settings.IOC_STAKEHOLDER_EMAILS = ["cio@example.org", "ops-managers@example.org"]
    with_captured = act(
        floor.alice, incident, "severity", {"severity": "SEV1", "reason": "payments failing"}
    )
    assert with_captured.status_code == 200
    body = with_captured.json()
    assert body["is_major"] is True
    assert body["next_status_update_at"] is not None
    refused = act(floor.alice, incident, "status", {"status": "investigating"})
    assert refused.status_code == 409
    assert "commander" in refused.json()["error"]
    assert (
        act(floor.alice, incident, "roles", {"role": "commander", "user": "manager"}).status_code
        == 200
    )
    assert act(floor.alice, incident, "status", {"status": "investigating"}).status_code == 200
    assert incident.events.filter(kind="notification").exists()


def test_stakeholder_mail_is_sent_after_commit(
    floor, incident, settings, django_capture_on_commit_callbacks
):
    settings.IOC_STAKEHOLDER_EMAILS = ["cio@example.org"]
    with django_capture_on_commit_callbacks(execute=True):
        act(floor.alice, incident, "severity", {"severity": "SEV2", "reason": "wider impact"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["cio@example.org"]
    assert f"#{incident.number}" in mail.outbox[0].subject


def test_a_status_update_resets_the_cadence_and_is_on_the_timeline(floor, incident, settings):
    act(floor.alice, incident, "severity", {"severity": "SEV2", "reason": "wider"})
    before = Incident.objects.get().next_status_update_at
    response = act(floor.alice, incident, "status_updates", {"body": "Failover in progress"})
    assert response.status_code == 201
    assert Incident.objects.get().next_status_update_at > before
    assert incident.events.filter(kind="status_update").count() == 1


def test_an_alert_opened_sev2_is_major_from_the_start(client, floor):
    post_alert(client, floor.token, {"summary": "Core DB down", "severity": "critical"})
    process()
    incident = Incident.objects.get()
    assert incident.severity == "SEV2"
    assert incident.next_status_update_at is not None


# --- roles, responders, hand-offs ---


def test_roles_are_assigned_and_recorded(floor, incident):
    for role, user in [
        ("commander", "alice"),
        ("communications_lead", "manager"),
        ("scribe", "dave"),
    ]:
        assert act(floor.alice, incident, "roles", {"role": role, "user": user}).status_code == 200
    body = api_client_for(floor.alice).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert (body["commander"], body["communications_lead"], body["scribe"]) == (
        "alice",
        "manager",
        "dave",
    )
    assert incident.events.filter(kind="role_changed").count() == 3
    assert act(floor.alice, incident, "roles", {"role": "king", "user": "alice"}).status_code == 409
    assert (
        act(floor.alice, incident, "roles", {"role": "scribe", "user": "ghost"}).status_code == 400
    )


def test_teams_from_inside_and_outside_join_as_responders_without_a_hand_off(floor, incident):
    response = act(
        floor.alice, incident, "responders", {"teams": ["dba", "payments-app"], "users": ["dave"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert {r["team"] for r in body["responders"] if r["team"]} == {"dba", "payments-app"}
    assert body["team"] == "first-line"
    assert body["escalated_outside"] is False
    assert body["hand_offs"] == []


def test_a_hand_off_moves_ownership_and_is_a_record(floor, incident):
    response = act(floor.alice, incident, "hand_off", {"team": "dba", "reason": "slow queries"})
    assert response.status_code == 200
    body = response.json()
    assert body["team"] == "dba"
    assert body["escalated_outside"] is False
    hand_off = body["hand_offs"][0]
    assert (hand_off["from_team"], hand_off["to_team"], hand_off["reason"], hand_off["by"]) == (
        "first-line",
        "dba",
        "slow queries",
        "alice",
    )
    accepted = api_client_for(floor.dave).post(f"/api/v1/hand_offs/{hand_off['id']}/accept/")
    assert accepted.status_code == 200
    assert accepted.json()["accepted_by"] == "dave"


def test_a_hand_off_outside_marks_the_incident_escalated_outside_for_good(floor, incident):
    act(floor.alice, incident, "hand_off", {"team": "payments-app", "reason": "app bug"})
    # The outside team now owns it and may act on it; handing it back does not undo the mark.
    back = act(floor.paul, incident, "hand_off", {"team": "first-line", "reason": "not ours"})
    assert back.status_code == 200
    body = back.json()
    assert body["team"] == "first-line"
    assert body["escalated_outside"] is True
    assert len(body["hand_offs"]) == 2


def test_a_hand_off_needs_a_reason_and_another_team(floor, incident):
    assert act(floor.alice, incident, "hand_off", {"team": "dba"}).status_code == 400
    assert (
        act(floor.alice, incident, "hand_off", {"team": "first-line", "reason": "x"}).status_code
        == 409
    )


# --- declaring by hand ---


def test_staff_declare_an_incident_by_hand(floor):
    response = api_client_for(floor.alice).post(
        "/api/v1/incidents/",
        {
            "title": "Branch reports card terminals offline",
            "severity": "SEV1",
            "team": "first-line",
            "description": "Phone call from branch 12",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["severity"], body["declared_by"], body["team"]) == ("SEV1", "alice", "first-line")
    assert body["alert_count"] == 0
    assert body["timeline"][0]["kind"] == "opened"
    assert body["timeline"][0]["via"] == "api"


def test_declaring_checks_the_fields(floor):
    api = api_client_for(floor.alice)
    assert (
        api.post(
            "/api/v1/incidents/",
            {"title": "x", "severity": "SEV9", "team": "dba"},
            content_type="application/json",
        ).status_code
        == 400
    )
    assert (
        api.post(
            "/api/v1/incidents/",
            {"title": "x", "severity": "SEV3", "team": "nope"},
            content_type="application/json",
        ).status_code
        == 400
    )


def test_an_outside_member_cannot_declare_for_an_ioc_team(floor):
    response = api_client_for(floor.paul).post(
        "/api/v1/incidents/",
        {"title": "x", "severity": "SEV3", "team": "first-line"},
        content_type="application/json",
    )
    assert response.status_code in (400, 403)
    assert Incident.objects.count() == 0


# --- permissions ---


def test_ioc_staff_see_outside_incidents_but_do_not_act_on_them(floor):
    outside = incident_open(team=floor.vendor, title="Payments bug", severity="SEV3")
    api = api_client_for(floor.alice)
    assert api.get(f"/api/v1/incidents/{outside.pk}/").status_code == 200
    assert act(floor.alice, outside, "acknowledge").status_code == 403
    assert act(floor.paul, outside, "acknowledge").status_code == 200
    assert act(floor.manager, outside, "notes", {"body": "watching"}).status_code == 201


def test_outside_members_do_not_see_ioc_incidents(floor, incident):
    assert act(floor.paul, incident, "notes", {"body": "x"}).status_code == 404


def test_an_observer_gets_403_on_every_action(floor, incident):
    for action, body in [
        ("acknowledge", {}),
        ("notes", {"body": "x"}),
        ("hand_off", {"team": "dba", "reason": "x"}),
    ]:
        assert act(floor.olga, incident, action, body).status_code == 403


def test_notes_need_text_and_land_on_the_timeline(floor, incident):
    assert act(floor.alice, incident, "notes", {"body": ""}).status_code == 400
    assert act(floor.alice, incident, "notes", {"body": "Called the DBA"}).status_code == 201
    note = incident.events.get(kind=IncidentEvent.Kind.NOTE)
    assert (note.message, note.actor, note.via) == ("Called the DBA", floor.alice, "api")
