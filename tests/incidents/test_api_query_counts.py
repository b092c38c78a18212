"""The incident API reads the same number of queries however many rows it answers: the people and
teams the serializers name come with the rows, not one query per row."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import ownership, services, updates
from incidents.models import Incident
from tests.base import api_client_for


def declare_with_everyone(floor, title: str) -> Incident:
    """An incident whose every person and team field the list serializes is filled in."""
    incident = updates.incident_declare(
        team=floor.first_line, title=title, severity="SEV3", actor=floor.alice, via="api"
    )
    for role, user in (
        ("commander", floor.alice),
        ("communications_lead", floor.dave),
        ("scribe", floor.manager),
    ):
        ownership.incident_assign_role(
            incident_id=incident.pk, role=role, user=user, actor=floor.alice, via="api"
        )
    services.incident_resolve(
        incident_id=incident.pk, actor=floor.alice, via="api", resolving_team=floor.dba
    )
    return incident


def queries_for(user, path: str) -> tuple[int, dict]:
    client = api_client_for(user)
    client.get(path)  # the token and the session settle outside the count
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


def test_the_incident_list_does_not_query_per_incident(floor):
    for number in range(2):
        declare_with_everyone(floor, f"Outage {number}")
    few, body = queries_for(floor.alice, "/api/v1/incidents/")
    assert len(body["results"]) == 2
    first = body["results"][0]
    assert (first["commander"], first["communications_lead"], first["scribe"]) == (
        "alice",
        "dave",
        "manager",
    )
    assert (first["declared_by"], first["resolved_by"], first["resolving_team"]) == (
        "alice",
        "alice",
        "dba",
    )
    for number in range(2, 10):
        declare_with_everyone(floor, f"Outage {number}")
    many, body = queries_for(floor.alice, "/api/v1/incidents/")
    assert len(body["results"]) == 10
    assert many == few


def grow(floor, incident: Incident, rounds: int) -> None:
    """More timeline events, hand-offs (accepted) and responders, each naming people and teams."""
    for _ in range(rounds):
        for to_team in (floor.dba, floor.first_line):
            hand_off = ownership.incident_hand_off(
                incident_id=incident.pk,
                to_team=to_team,
                reason="ping-pong",
                actor=floor.alice,
                via="api",
            )
            ownership.hand_off_accept(hand_off_id=hand_off.pk, actor=floor.dave, via="api")
        updates.incident_add_note(
            incident_id=incident.pk, body="still on it", actor=floor.dave, via="api"
        )
    ownership.incident_add_responders(
        incident_id=incident.pk,
        users=[floor.dave, floor.manager][:rounds],
        teams=[floor.vendor, floor.dba][:rounds],
        actor=floor.alice,
        via="api",
    )


def test_the_incident_detail_does_not_query_per_timeline_event_hand_off_or_responder(floor):
    incident = updates.incident_declare(
        team=floor.first_line, title="Outage", severity="SEV3", actor=floor.alice, via="api"
    )
    grow(floor, incident, 1)
    path = f"/api/v1/incidents/{incident.pk}/"
    few, body = queries_for(floor.alice, path)
    assert (len(body["hand_offs"]), len(body["responders"])) == (2, 2)
    assert body["hand_offs"][0]["accepted_by"] == "dave"
    assert body["responders"][0]["added_by"] == "alice"
    grow(floor, incident, 2)
    many, body = queries_for(floor.alice, path)
    assert (len(body["hand_offs"]), len(body["responders"])) == (6, 4)
    assert {event["actor"] for event in body["timeline"]} >= {"alice", "dave"}
    assert many == few
