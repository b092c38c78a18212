"""The workflow in the browser: each action is an htmx POST answered with the incident fragment,
409 with the reason shown when the procedure refuses."""

import pytest

from incidents.models import Incident
from tests.base import post_alert, process


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(client, floor.token, {"summary": "VPN concentrator down", "severity": "high"})
    process()
    return Incident.objects.get()


def act(floor, user, incident, action, data=None):
    return floor.client_for(user).post(
        f"/incidents/{incident.pk}/act/{action}/", data or {}, HTTP_HX_REQUEST="true"
    )


def test_the_incident_page_offers_the_procedure(floor, incident):
    content = floor.client_for(floor.alice).get(f"/incidents/{incident.pk}/").content.decode()
    for text in (
        "Investigating",
        "Resolve",
        "Hand off to",
        "Incident commander",
        "Add note",
        "Post status update",
        "SEV1",
    ):
        assert text in content, text


def test_it_moves_forward_and_answers_the_fragment(floor, incident):
    response = act(floor, floor.alice, incident, "status", {"status": "investigating"})
    assert response.status_code == 200
    assert 'id="incident-live"' in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "investigating"


def test_a_refusal_is_a_409_with_the_reason_in_the_fragment(floor, incident):
    response = act(floor, floor.alice, incident, "severity", {"severity": "SEV1", "reason": ""})
    assert response.status_code == 409
    assert "needs a reason" in response.content.decode()


def test_resolving_from_the_page_records_team_code_and_summary(floor, incident):
    response = floor.client_for(floor.alice).post(
        f"/incidents/{incident.pk}/resolve/",
        {
            "resolving_team": floor.dba.pk,
            "resolution_code": "change_rolled_back",
            "summary": "Rolled back the firewall change",
        },
    )
    assert response.status_code == 200
    incident.refresh_from_db()
    assert (incident.resolving_team, incident.resolution_code) == (floor.dba, "change_rolled_back")
    assert incident.resolution_summary == "Rolled back the firewall change"


def test_hand_off_roles_notes_and_updates_from_the_page(floor, incident):
    assert (
        act(
            floor, floor.alice, incident, "role", {"role": "commander", "user": "alice"}
        ).status_code
        == 200
    )
    assert (
        act(floor, floor.alice, incident, "responders", {"team": floor.dba.pk}).status_code == 200
    )
    assert (
        act(floor, floor.alice, incident, "note", {"body": "Vendor ticket 4711"}).status_code == 200
    )
    assert (
        act(floor, floor.alice, incident, "status_update", {"body": "Working on it"}).status_code
        == 200
    )
    assert (
        act(
            floor,
            floor.alice,
            incident,
            "hand_off",
            {"team": floor.vendor.pk, "reason": "Vendor hardware"},
        ).status_code
        == 200
    )
    incident.refresh_from_db()
    assert incident.commander == floor.alice
    assert incident.team == floor.vendor
    assert incident.escalated_outside
    kinds = set(incident.events.values_list("kind", flat=True))
    assert {"role_changed", "responders_added", "note", "status_update", "hand_off"} <= kinds
    assert all(
        e.via == "web" for e in incident.events.exclude(kind__in=["opened", "alert_attached"])
    )


def test_an_unknown_action_is_a_404(floor, incident):
    assert act(floor, floor.alice, incident, "explode").status_code == 404


def test_an_observer_gets_403_from_the_page(floor, incident):
    assert act(floor, floor.olga, incident, "note", {"body": "x"}).status_code == 403


def test_declaring_from_the_board(floor):
    client = floor.client_for(floor.alice)
    assert client.get("/incidents/declare/").status_code == 200
    response = client.post(
        "/incidents/declare/",
        {
            "title": "Call centre: customers cannot log in",
            "team": floor.first_line.pk,
            "severity": "SEV2",
            "description": "Many calls since 09:10",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"
    assert (incident.severity, incident.declared_by) == ("SEV2", floor.alice)
    bad = client.post(
        "/incidents/declare/", {"title": "", "team": floor.first_line.pk, "severity": "SEV2"}
    )
    assert bad.status_code == 400
    assert b"needs a title" in bad.content
