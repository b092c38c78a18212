"""Shift hand-over notes: the snapshot of open incidents, who may read, write and acknowledge,
through the services, the REST API, the htmx page and the admin."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from incidents.handover import (
    HandoverAlreadyAcknowledged,
    HandoverOwnNote,
    shift_handover_acknowledge,
    shift_handover_create,
    shift_handover_incidents_for,
    shift_handover_latest,
    shift_handover_list_for_user,
    shift_handover_pending_for,
    shift_handover_user_may_read,
    shift_handover_user_may_write,
    shift_handover_visible_team_slugs,
)
from incidents.models import Incident, ShiftHandover
from incidents.selectors import incident_list_for_user
from incidents.services import incident_open, incident_resolve
from tests.base import api_client_for, post_alert, process


@pytest.fixture
def incidents(client, floor) -> dict[str, Incident]:
    """Open incidents of first line (SEV4 and SEV2), DBA and the outside team; one resolved."""
    post_alert(client, floor.token, {"summary": "Disk filling", "severity": "warning"})
    post_alert(client, floor.token, {"summary": "Link down", "severity": "critical"})
    post_alert(client, floor.vendor_token, {"summary": "Payments slow"})
    process()
    dba = incident_open(team=floor.dba, title="Replication lag", severity="SEV3")
    done = incident_open(team=floor.first_line, title="Already fixed", severity="SEV3")
    incident_resolve(incident_id=done.pk, actor=None, via="system")
    return {
        "disk": Incident.objects.get(title="Disk filling"),
        "link": Incident.objects.get(title="Link down"),
        "vendor": Incident.objects.get(title="Payments slow"),
        "dba": dba,
        "done": done,
    }


@pytest.fixture
def note(floor, incidents) -> ShiftHandover:
    return shift_handover_create(
        author=floor.alice,
        shift="night 22:00-06:00",
        done="Failed over sw-1.",
        watch="Disk on db-2",
    )


# --- services ------------------------------------------------------------------------------


def test_it_snapshots_the_open_incidents_the_author_can_see(floor, incidents, note):
    assert note.author == floor.alice
    assert (note.shift, note.done, note.watch) == (
        "night 22:00-06:00",
        "Failed over sw-1.",
        "Disk on db-2",
    )
    link = incidents["link"]
    visible = incident_list_for_user(user=floor.alice, status="open")
    assert {entry["id"] for entry in note.open_incidents} == {i.pk for i in visible}
    assert "Already fixed" not in [entry["title"] for entry in note.open_incidents]
    # Most severe first.
    severities = [entry["severity"] for entry in note.open_incidents]
    assert severities == sorted(severities)
    assert note.open_incidents[0] == {
        "id": link.pk,
        "number": link.number,
        "title": "Link down",
        "severity": "SEV2",
        "status": "triggered",
        "team": "first-line",
    }


def test_the_snapshot_keeps_what_was_open_at_hand_over(floor, incidents, note):
    incident_resolve(incident_id=incidents["link"].pk, actor=None, via="system")
    note.refresh_from_db()
    assert note.open_incidents[0]["status"] == "triggered"


def test_it_notes_the_hand_over_on_each_listed_incident(floor, incidents, note):
    event = incidents["link"].events.last()
    assert (event.kind, event.actor, event.via) == ("note", floor.alice, "web")
    assert event.message == "Handed over at the end of shift 'night 22:00-06:00' by alice"
    assert event.data == {"handover": note.pk, "action": "handed_over"}
    assert not incidents["done"].events.filter(kind="note").exists()


def test_it_needs_a_shift_name(floor):
    with pytest.raises(ValidationError) as refused:
        shift_handover_create(author=floor.alice, shift="  ", done="", watch="")
    assert "shift" in refused.value.message_dict
    assert not ShiftHandover.objects.exists()


def test_the_incoming_shift_acknowledges_once(floor, incidents, note):
    note = shift_handover_acknowledge(handover=note, user=floor.dave, via="api")
    assert note.acknowledged_by == floor.dave and note.acknowledged_at is not None
    event = incidents["link"].events.last()
    assert (event.actor, event.via, event.data["action"]) == (floor.dave, "api", "taken_over")
    with pytest.raises(HandoverAlreadyAcknowledged, match="Already acknowledged by dave"):
        shift_handover_acknowledge(handover=note, user=floor.manager)
    note.refresh_from_db()
    assert note.acknowledged_by == floor.dave


def test_the_author_cannot_acknowledge_their_own_note(floor, note):
    with pytest.raises(HandoverOwnNote):
        shift_handover_acknowledge(handover=note, user=floor.alice)
    note.refresh_from_db()
    assert note.acknowledged_at is None


def test_taking_over_notes_only_incidents_still_open(floor, incidents, note):
    incident_resolve(incident_id=incidents["disk"].pk, actor=None, via="system")
    shift_handover_acknowledge(handover=note, user=floor.dave)
    assert incidents["link"].events.filter(data__action="taken_over").count() == 1
    assert not incidents["disk"].events.filter(data__action="taken_over").exists()


def test_it_selects_the_latest_and_the_pending_note(floor, incidents, note):
    later = shift_handover_create(author=floor.dave, shift="day", done="", watch="")
    assert shift_handover_latest(user=floor.alice) == later
    assert shift_handover_pending_for(user=floor.alice) == later
    assert shift_handover_pending_for(user=floor.dave) is None  # the author waits for others
    shift_handover_acknowledge(handover=later, user=floor.alice)
    assert shift_handover_pending_for(user=floor.manager) is None


def test_the_floor_reads_and_members_write(floor):
    readers = {floor.admin, floor.manager, floor.alice, floor.dave, floor.olga}
    writers = {floor.admin, floor.manager, floor.alice, floor.dave}
    for person in (floor.admin, floor.manager, floor.alice, floor.dave, floor.paul, floor.olga):
        assert shift_handover_user_may_read(user=person) == (person in readers), person
        assert shift_handover_user_may_write(user=person) == (person in writers), person


def test_a_reader_sees_only_incidents_of_teams_they_may_see(floor, incidents):
    administrator_note = shift_handover_create(author=floor.admin, shift="day", done="", watch="")
    slugs = shift_handover_visible_team_slugs(user=floor.olga)
    titles = [
        entry["title"]
        for entry in shift_handover_incidents_for(
            handover=administrator_note, visible_team_slugs=slugs
        )
    ]
    assert "Payments slow" not in titles and "Link down" in titles
    assert not shift_handover_list_for_user(user=floor.paul).exists()


# --- REST API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/handovers/"),
        ("post", "/api/v1/handovers/"),
        ("get", "/api/v1/handovers/{pk}/"),
        ("post", "/api/v1/handovers/{pk}/acknowledge/"),
    ],
)
def test_the_api_answers_401_without_a_token(note, method, path):
    response = getattr(Client(), method)(path.format(pk=note.pk))
    assert response.status_code == 401
    assert "error" in response.json()


def test_the_api_writes_lists_and_acknowledges(floor, incidents):
    alice = api_client_for(floor.alice)
    created = alice.post(
        "/api/v1/handovers/",
        {"shift": "night", "done": "Failed over", "watch": "Disk"},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["author"], body["shift"], body["acknowledged_by"]) == ("alice", "night", None)
    assert body["open_incidents"][0]["number"] == incidents["link"].number
    assert incidents["done"].number not in [e["number"] for e in body["open_incidents"]]
    listed = alice.get("/api/v1/handovers/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert alice.get(f"/api/v1/handovers/{body['id']}/").json()["shift"] == "night"

    own = alice.post(f"/api/v1/handovers/{body['id']}/acknowledge/")
    assert own.status_code == 403
    assert "incoming shift" in own.json()["error"]
    taken = api_client_for(floor.dave).post(f"/api/v1/handovers/{body['id']}/acknowledge/")
    assert taken.status_code == 200
    assert taken.json()["acknowledged_by"] == "dave"
    again = api_client_for(floor.manager).post(f"/api/v1/handovers/{body['id']}/acknowledge/")
    assert again.status_code == 409
    assert "Already acknowledged by dave" in again.json()["error"]


def test_the_api_refuses_a_note_without_a_shift(floor):
    response = api_client_for(floor.alice).post(
        "/api/v1/handovers/", {"done": "x"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "shift" in response.json()["fields"]


def test_the_api_lets_an_observer_read_but_not_write(floor, note):
    api = api_client_for(floor.olga)
    assert api.get("/api/v1/handovers/").json()["count"] == 1
    written = api.post("/api/v1/handovers/", {"shift": "x"}, content_type="application/json")
    assert written.status_code == 403
    assert api.post(f"/api/v1/handovers/{note.pk}/acknowledge/").status_code == 403
    note.refresh_from_db()
    assert note.acknowledged_at is None


def test_the_api_keeps_notes_from_outside_teams(floor, note):
    api = api_client_for(floor.paul)
    assert api.get("/api/v1/handovers/").status_code == 403
    assert api.post("/api/v1/handovers/", {"shift": "x"}).status_code == 403
    assert api.get(f"/api/v1/handovers/{note.pk}/").status_code == 404
    assert api.post(f"/api/v1/handovers/{note.pk}/acknowledge/").status_code == 404


def test_the_api_filters_a_note_for_its_reader(floor, incidents):
    administrator_note = shift_handover_create(author=floor.admin, shift="day", done="", watch="")
    assert "Payments slow" in [entry["title"] for entry in administrator_note.open_incidents]
    # An observer of first line sees the note, but not the outside team's incident in it.
    body = api_client_for(floor.olga).get(f"/api/v1/handovers/{administrator_note.pk}/").json()
    titles = [entry["title"] for entry in body["open_incidents"]]
    assert "Payments slow" not in titles and "Link down" in titles


# --- browser (htmx) ------------------------------------------------------------------------


def test_the_page_shows_the_form_with_what_will_be_listed(floor, incidents):
    response = floor.client_for(floor.alice).get("/handover/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" in content
    assert 'hx-post="/handover/"' in content
    count = incident_list_for_user(user=floor.alice, status="open").count()
    assert f"The note lists the {count} open incidents you can see now" in content
    assert "Already fixed" not in content


def test_the_web_writes_a_note_and_answers_with_the_fragment(floor, incidents):
    response = floor.client_for(floor.alice).post(
        "/handover/",
        {"shift": "night", "done": "Failed over sw-1", "watch": "Disk on db-2"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert 'id="handover"' in content
    assert "Failed over sw-1" in content
    assert "Waiting for the incoming shift to acknowledge" in content  # not the author's button
    assert ShiftHandover.objects.get().author == floor.alice


def test_the_web_shows_why_a_note_was_refused(floor):
    response = floor.client_for(floor.alice).post(
        "/handover/", {"shift": "", "done": "kept"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert b"Name the shift" in response.content
    assert b"kept" in response.content


def test_the_web_acknowledges_once_and_not_by_the_author(floor, note):
    url = f"/handover/{note.pk}/acknowledge/"
    page = floor.client_for(floor.dave).get("/handover/")
    assert f'hx-post="{url}"'.encode() in page.content
    own = floor.client_for(floor.alice).post(url, HTTP_HX_REQUEST="true")
    assert own.status_code == 403
    assert b"someone from the incoming shift" in own.content
    taken = floor.client_for(floor.dave).post(url, HTTP_HX_REQUEST="true")
    assert taken.status_code == 200
    assert b"Acknowledged by dave" in taken.content
    again = floor.client_for(floor.manager).post(url, HTTP_HX_REQUEST="true")
    assert again.status_code == 409
    assert b"Already acknowledged by dave" in again.content


def test_the_web_lets_an_observer_read_but_not_write(floor, note):
    client = floor.client_for(floor.olga)
    page = client.get("/handover/")
    assert page.status_code == 200
    assert b"hx-post" not in page.content
    assert client.post("/handover/", {"shift": "x"}).status_code == 403
    assert client.post(f"/handover/{note.pk}/acknowledge/").status_code == 403


def test_the_web_keeps_notes_from_outside_teams(floor, note):
    client = floor.client_for(floor.paul)
    assert client.get("/handover/").status_code == 403
    assert client.post("/handover/", {"shift": "x"}).status_code == 403
    assert client.post(f"/handover/{note.pk}/acknowledge/").status_code == 404


def test_the_web_needs_a_login_and_csrf(floor, note):
    anonymous = Client().get("/handover/")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert floor.client_for(floor.dave).get(f"/handover/{note.pk}/acknowledge/").status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(floor.dave)
    url = f"/handover/{note.pk}/acknowledge/"
    assert client.post(url).status_code == 403
    token = client.get("/handover/").cookies["csrftoken"].value
    assert client.post(url, HTTP_X_CSRFTOKEN=token).status_code == 200


# --- admin ---------------------------------------------------------------------------------


def test_the_admin_shows_notes_read_only_and_acknowledges_through_the_service(floor, note):
    client = floor.client_for(floor.admin)
    page = client.get(f"/admin/incidents/shifthandover/{note.pk}/change/")
    assert page.status_code == 200
    assert b'name="shift"' not in page.content
    client.post(
        "/admin/incidents/shifthandover/",
        {"action": "acknowledge", "_selected_action": [str(note.pk)]},
    )
    note.refresh_from_db()
    assert note.acknowledged_by == floor.admin
    assert Incident.objects.get(title="Link down").events.last().via == "admin"
