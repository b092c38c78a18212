"""Browser pages through Django's test client: login, visibility, acknowledge and resolve."""

import pytest
from django.test import Client

from incidents.models import Incident
from tests.base import post_alert, process


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(client, floor.token, {"summary": "Link down on core-sw-1", "severity": "high"})
    process()
    return Incident.objects.get()


@pytest.mark.parametrize("path", ["/", "/incidents/1/", "/api/v1/teams/"])
def test_it_requires_login_on_every_page(db, path):
    response = Client().get(path)
    if path.startswith("/api/"):
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_it_requires_login_for_actions(incident):
    response = Client().post(f"/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_the_admin_requires_a_staff_login(floor):
    assert Client().get("/admin/").status_code == 302
    assert floor.client_for(floor.alice).get("/admin/").status_code == 302


def test_the_login_page_and_healthz_are_open(db):
    assert Client().get("/accounts/login/").status_code == 200
    assert Client().get("/healthz").status_code == 200


def test_login_with_a_password_reaches_the_board(floor):
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "pw-alice-123"}, follow=True
    )
    assert response.status_code == 200
    assert b"Open incidents" in response.content


def test_the_board_lists_open_incidents(floor, incident):
    response = floor.client_for(floor.alice).get("/")
    assert response.status_code == 200
    assert b"Link down on core-sw-1" in response.content
    assert b'data-live="/ws/board/"' in response.content


def test_the_board_escapes_user_text(client, floor):
    post_alert(client, floor.token, {"summary": "<script>alert(1)</script>"})
    process()
    response = floor.client_for(floor.alice).get("/")
    assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content


def test_the_incident_page_shows_alerts_and_timeline(floor, incident):
    response = floor.client_for(floor.alice).get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Link down on core-sw-1" in content
    assert "Opened as SEV3 for First line" in content
    assert "Acknowledge" in content


def test_an_outside_member_cannot_see_ioc_incidents(floor, incident):
    client = floor.client_for(floor.paul)
    assert client.get(f"/incidents/{incident.pk}/").status_code == 404
    assert b"Link down" not in client.get("/").content
    assert client.post(f"/incidents/{incident.pk}/acknowledge/").status_code == 404


def test_an_observer_sees_but_cannot_act(floor, incident):
    client = floor.client_for(floor.olga)
    page = client.get(f"/incidents/{incident.pk}/")
    assert page.status_code == 200
    assert b"hx-post" not in page.content
    assert client.post(f"/incidents/{incident.pk}/acknowledge/").status_code == 403
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_it_acknowledges_and_records_who(floor, incident):
    client = floor.client_for(floor.alice)
    response = client.post(f"/incidents/{incident.pk}/acknowledge/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'id="incident-live"' in response.content
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert incident.acknowledged_by == floor.alice
    event = incident.events.get(kind="status_changed")
    assert (event.actor, event.via, event.data["to"]) == (floor.alice, "web", "acknowledged")


def test_it_resolves_and_records_who(floor, incident):
    client = floor.client_for(floor.dave)  # a DBA may act on a first-line incident
    assert client.post(f"/incidents/{incident.pk}/resolve/").status_code == 200
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_by == floor.dave
    assert incident.acknowledged_at is None


def test_acknowledging_a_resolved_incident_is_refused(floor, incident):
    client = floor.client_for(floor.alice)
    client.post(f"/incidents/{incident.pk}/resolve/")
    response = client.post(f"/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 409
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_actions_need_a_csrf_token(floor, incident):
    client = Client(enforce_csrf_checks=True)
    client.force_login(floor.alice)
    assert client.post(f"/incidents/{incident.pk}/acknowledge/").status_code == 403
    page = client.get(f"/incidents/{incident.pk}/")
    token = page.cookies["csrftoken"].value
    response = client.post(f"/incidents/{incident.pk}/acknowledge/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "acknowledged"


def test_actions_refuse_get(floor, incident):
    assert (
        floor.client_for(floor.alice).get(f"/incidents/{incident.pk}/resolve/").status_code == 405
    )
