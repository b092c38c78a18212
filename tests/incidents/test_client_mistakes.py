"""A client's mistake in an id or a list is answered like any other invalid choice (a form
error, a 409 fragment, a 400 in the API's error shape), never a 500."""

import pytest

from incidents.models import Incident
from tests.base import api_client_for, post_alert, process


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(client, floor.token, {"summary": "VPN concentrator down", "severity": "high"})
    process()
    return Incident.objects.get()


def act_in_page(floor, incident, action: str, data: dict):
    return floor.client_for(floor.alice).post(
        f"/incidents/{incident.pk}/act/{action}/", data, HTTP_HX_REQUEST="true"
    )


def act_in_api(floor, incident, action: str, body):
    return api_client_for(floor.alice).post(
        f"/api/v1/incidents/{incident.pk}/{action}/", body, content_type="application/json"
    )


# "²" passes str.isdigit() but not int(); a number past bigint reaches the database.
NOT_AN_ID = ["abc", "1.5", "²", "99999999999999999999999"]


@pytest.mark.parametrize("team", NOT_AN_ID)
def test_declaring_with_a_team_that_is_not_an_id_is_a_form_error(floor, team):
    response = floor.client_for(floor.alice).post(
        "/incidents/declare/", {"title": "Phones down", "team": team, "severity": "SEV3"}
    )
    assert response.status_code == 400
    assert b"Choose a team you may declare incidents for." in response.content
    assert not Incident.objects.exists()


@pytest.mark.parametrize("team", NOT_AN_ID)
@pytest.mark.parametrize(
    "action, data",
    [
        ("hand_off", {"reason": "theirs"}),
        ("responders", {}),
    ],
)
def test_a_team_that_is_not_an_id_is_refused_in_the_fragment(floor, incident, action, data, team):
    response = act_in_page(floor, incident, action, {**data, "team": team})
    assert response.status_code == 409
    assert "choose a team" in response.content.decode()
    incident.refresh_from_db()
    assert incident.team == floor.first_line


@pytest.mark.parametrize("team", NOT_AN_ID)
def test_a_resolving_team_that_is_not_an_id_is_refused_in_the_fragment(floor, incident, team):
    response = act_in_page(floor, incident, "resolve", {"resolving_team": team})
    assert response.status_code == 409
    assert "choose a team" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_merging_into_a_number_that_is_not_one_is_refused_in_the_fragment(floor, incident):
    response = act_in_page(floor, incident, "merge", {"into": "#²"})
    assert response.status_code == 409
    assert "that you may see" in response.content.decode()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"users": [{"username": "dave"}]}, "users"),
        ({"users": [["dave"]]}, "users"),
        ({"users": ["dave", 7]}, "users"),
        ({"teams": [{"slug": "dba"}]}, "teams"),
        ({"teams": [["dba"]]}, "teams"),
    ],
)
def test_responders_that_are_not_strings_are_a_400(floor, incident, body, field):
    response = act_in_api(floor, incident, "responders", body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid input"
    assert field in response.json()["fields"]
    assert not incident.responders.exists()
