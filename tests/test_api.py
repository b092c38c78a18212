"""The REST API's first cut: its shapes are a public contract."""

import pytest
from django.test import Client

from incidents.models import Incident
from tests.base import api_client_for, post_alert, process


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(
        client,
        floor.token,
        {
            "summary": "Replication lag",
            "severity": "high",
            "service": "ledger-db",
            "source": "db-02",
        },
    )
    process()
    return Incident.objects.get()


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/teams/",
        "/api/v1/integrations/",
        "/api/v1/alerts/",
        "/api/v1/incidents/",
        "/api/v1/incidents/1/",
    ],
)
def test_it_answers_401_without_a_token(db, path):
    response = Client().get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "error" in response.json()


def test_it_answers_401_for_a_bad_token(db):
    response = Client(HTTP_AUTHORIZATION="Token not-a-real-token").get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.json()["error"] == "Invalid token."


def test_it_answers_401_for_actions_without_a_token(incident):
    response = Client().post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 401


# --- teams ---------------------------------------------------------------------------------


def test_a_manager_creates_a_team(floor):
    api = api_client_for(floor.manager)
    response = api.post(
        "/api/v1/teams/",
        {"name": "Storage", "slug": "storage", "in_ioc": True},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["slug"] == "storage"
    slugs = [team["slug"] for team in api.get("/api/v1/teams/").json()["results"]]
    assert "storage" in slugs


def test_a_member_may_not_create_a_team(floor):
    response = api_client_for(floor.alice).post(
        "/api/v1/teams/", {"name": "Rogue", "slug": "rogue"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "error" in response.json()


def test_a_duplicate_team_slug_is_a_400(floor):
    response = api_client_for(floor.admin).post(
        "/api/v1/teams/", {"name": "Other", "slug": "dba"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "slug" in response.json()["fields"]


# --- integrations --------------------------------------------------------------------------


def test_a_manager_creates_an_integration_and_sees_its_token_once(floor):
    api = api_client_for(floor.manager)
    response = api.post(
        "/api/v1/integrations/",
        {"name": "Zabbix", "kind": "generic", "team": "dba"},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "name", "kind", "team", "token", "ingest_url"}
    assert body["team"] == "dba"
    assert body["ingest_url"] == f"http://testserver/integrations/{body['token']}/"
    # The URL works.
    accepted = post_alert(Client(), body["token"], {"summary": "from the new integration"})
    assert accepted.status_code == 202
    listed = api.get("/api/v1/integrations/").json()["results"]
    assert {item["name"] for item in listed} >= {"Zabbix"}
    for item in listed:
        assert "token" not in item and "ingest_url" not in item
    assert body["token"] not in api.get("/api/v1/integrations/").content.decode()


def test_an_integration_needs_a_known_kind_and_team(floor):
    api = api_client_for(floor.admin)
    bad_kind = api.post(
        "/api/v1/integrations/",
        {"name": "x", "kind": "smoke-signals", "team": "dba"},
        content_type="application/json",
    )
    assert bad_kind.status_code == 400
    assert "kind" in bad_kind.json()["fields"]
    bad_team = api.post(
        "/api/v1/integrations/",
        {"name": "x", "kind": "generic", "team": "nope"},
        content_type="application/json",
    )
    assert bad_team.status_code == 400
    assert "team" in bad_team.json()["fields"]


def test_a_member_may_not_create_an_integration(floor):
    response = api_client_for(floor.alice).post(
        "/api/v1/integrations/",
        {"name": "x", "kind": "generic", "team": "dba"},
        content_type="application/json",
    )
    assert response.status_code == 403


# --- alerts --------------------------------------------------------------------------------


def test_it_lists_alerts_with_the_contract_fields(floor, incident):
    body = api_client_for(floor.alice).get("/api/v1/alerts/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    alert = body["results"][0]
    assert set(alert) >= {
        "id",
        "integration",
        "fingerprint",
        "status",
        "severity",
        "name",
        "summary",
        "source",
        "service",
        "labels",
        "count",
        "incident",
        "first_seen",
        "last_seen",
        "resolved_at",
    }
    assert alert["incident"] == incident.pk
    assert alert["severity"] == "high"
    assert alert["integration"] == floor.integration.pk


def test_it_filters_alerts_by_integration_and_status(client, floor, incident):
    post_alert(
        client,
        floor.token,
        {
            "summary": "Replication lag",
            "service": "ledger-db",
            "source": "db-02",
            "status": "resolved",
        },
    )
    post_alert(client, floor.token, {"summary": "CPU high"})
    process()
    api = api_client_for(floor.admin)
    firing = api.get("/api/v1/alerts/", {"status": "firing"}).json()
    assert [a["summary"] for a in firing["results"]] == ["CPU high"]
    resolved = api.get("/api/v1/alerts/", {"status": "resolved"}).json()
    assert [a["summary"] for a in resolved["results"]] == ["Replication lag"]
    other = api.get("/api/v1/alerts/", {"integration": floor.vendor_integration.pk}).json()
    assert other["count"] == 0
    assert api.get("/api/v1/alerts/", {"status": "exploded"}).status_code == 400


def test_alerts_are_paginated(client, floor):
    for n in range(55):
        post_alert(client, floor.token, {"summary": f"alert {n}"})
    process()
    api = api_client_for(floor.admin)
    first = api.get("/api/v1/alerts/").json()
    assert first["count"] == 55
    assert len(first["results"]) == 50
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 5


def test_outside_members_do_not_see_ioc_alerts(floor, incident):
    assert api_client_for(floor.paul).get("/api/v1/alerts/").json()["count"] == 0


# --- incidents -----------------------------------------------------------------------------


def test_it_lists_incidents_with_the_contract_fields(floor, incident):
    body = api_client_for(floor.alice).get("/api/v1/incidents/").json()
    assert body["count"] == 1
    item = body["results"][0]
    assert set(item) >= {
        "id",
        "number",
        "title",
        "severity",
        "status",
        "team",
        "alert_count",
        "opened_at",
        "acknowledged_at",
        "resolved_at",
    }
    assert "timeline" not in item
    assert (item["team"], item["severity"], item["status"], item["alert_count"]) == (
        "first-line",
        "SEV3",
        "triggered",
        1,
    )


def test_it_filters_incidents_by_status_and_team(client, floor, incident):
    post_alert(client, floor.vendor_token, {"summary": "Payments API 500s"})
    process()
    api = api_client_for(floor.admin)
    assert api.get("/api/v1/incidents/", {"status": "open"}).json()["count"] == 2
    assert api.get("/api/v1/incidents/", {"team": "payments-app"}).json()["count"] == 1
    api.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    assert api.get("/api/v1/incidents/", {"status": "open"}).json()["count"] == 1
    assert api.get("/api/v1/incidents/", {"status": "resolved"}).json()["count"] == 1
    assert api.get("/api/v1/incidents/", {"status": "nonsense"}).status_code == 400


def test_the_detail_has_the_timeline(floor, incident):
    body = api_client_for(floor.alice).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert body["id"] == incident.pk
    assert body["number"] == incident.number
    kinds = [event["kind"] for event in body["timeline"]]
    assert kinds == ["opened", "alert_attached"]


def test_acknowledge_and_resolve_through_the_api(floor, incident):
    api = api_client_for(floor.alice)
    ack = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert ack.status_code == 200
    assert ack.json()["status"] == "acknowledged"
    assert ack.json()["acknowledged_at"] is not None
    again = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert again.status_code == 200  # repeating the current state is a no-op
    assert again.json()["acknowledged_at"] == ack.json()["acknowledged_at"]
    resolved = api.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert api.post(f"/api/v1/incidents/{incident.pk}/resolve/").status_code == 200
    refused = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert refused.status_code == 409
    assert "resolved" in refused.json()["error"]
    events = Incident.objects.get().events.filter(kind="status_changed")
    assert [(e.data["to"], e.via, e.actor) for e in events] == [
        ("acknowledged", "api", floor.alice),
        ("resolved", "api", floor.alice),
    ]


def test_an_unknown_incident_is_a_404(floor):
    response = api_client_for(floor.alice).get("/api/v1/incidents/999999/")
    assert response.status_code == 404
    assert "error" in response.json()
    assert api_client_for(floor.alice).post("/api/v1/incidents/999999/resolve/").status_code == 404


def test_an_invisible_incident_is_a_404(floor, incident):
    api = api_client_for(floor.paul)
    assert api.get(f"/api/v1/incidents/{incident.pk}/").status_code == 404
    assert api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 404
    assert api.get("/api/v1/incidents/").json()["count"] == 0


def test_a_visible_incident_the_user_may_not_act_on_is_a_403_and_logged(floor, incident, caplog):
    api = api_client_for(floor.olga)
    assert api.get(f"/api/v1/incidents/{incident.pk}/").status_code == 200
    response = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 403
    assert "error" in response.json()
    assert any("forbidden" in record.getMessage() for record in caplog.records)
    incident.refresh_from_db()
    assert incident.status == "triggered"
