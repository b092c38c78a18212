"""/api/v1/routes/: CRUD for managers, reading for the floor, and the routing tester."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import Route
from alerts.routing import route_alert, route_create, routes_for_integration
from alerts.services import integration_create
from incidents.escalation_policies import escalation_policy_create, escalation_policy_delete
from tests.base import api_client_for, post_alert

ROUTES = "/api/v1/routes/"
TEST = "/api/v1/routes/test/"


@pytest.fixture
def dba_policy(floor):
    return escalation_policy_create(team=floor.dba, name="DBA paging")


def post(client: Client, url: str, data, method: str = "post"):
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json")


def db_route(floor, **overrides) -> dict:
    return {
        "name": "Databases to the DBA team",
        "integration": floor.integration.pk,
        "position": 1,
        "matchers": [{"field": "service", "op": "=~", "value": ".*-db"}],
        "team": "dba",
        **overrides,
    }


def test_it_creates_a_route_for_a_manager(floor, dba_policy):
    data = db_route(floor, escalation_policy=dba_policy.pk, severity_override="sev2")
    response = post(api_client_for(floor.manager), ROUTES, data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["team"] == "dba" and body["escalation_policy"] == dba_policy.pk
    assert body["severity_override"] == "SEV2"
    assert body["matchers"] == [{"field": "service", "op": "=~", "value": ".*-db"}]
    assert body["group_by"] == [] and body["group_wait_seconds"] == 30
    route = Route.objects.get(pk=body["id"])
    assert route.created_by == floor.manager and route.team == floor.dba


def test_it_lists_routes_in_order(floor):
    integration = floor.integration
    route_create(name="default", integration=integration, is_default=True, team=floor.first_line)
    route_create(name="global", position=0, matchers=[{"field": "name", "op": "exists"}])
    route_create(name="own 2", integration=integration, position=2)
    route_create(name="own 1", integration=integration, position=1)
    route_create(name="theirs", integration=floor.vendor_integration)
    client = api_client_for(floor.alice)
    names = [r["name"] for r in client.get(ROUTES).json()["results"]]
    # Global first, then each integration's: own routes by position, the default last.
    assert names[0] == "global" and names.index("own 1") < names.index("own 2")
    assert names.index("own 2") < names.index("default")
    evaluation = client.get(f"{ROUTES}?integration={integration.pk}").json()["results"]
    assert [r["name"] for r in evaluation] == ["own 1", "own 2", "global", "default"]
    assert client.get(f"{ROUTES}?integration=x").status_code == 400


def test_it_reads_changes_and_deletes_a_route(floor, dba_policy):
    route = route_create(name="db", integration=floor.integration, team=floor.dba)
    client = api_client_for(floor.manager)
    url = f"{ROUTES}{route.pk}/"
    assert client.get(url).json()["name"] == "db"
    patched = post(client, url, {"escalation_policy": dba_policy.pk}, method="patch")
    assert patched.status_code == 200, patched.content
    assert patched.json()["escalation_policy"] == dba_policy.pk
    assert patched.json()["team"] == "dba"  # untouched by a PATCH
    put = post(client, url, {"name": "db (all)", "continue_matching": True}, method="put")
    assert put.status_code == 200, put.content
    # PUT replaces the whole route: what it leaves out takes the defaults.
    assert put.json()["team"] is None and put.json()["integration"] is None
    assert put.json()["escalation_policy"] is None and put.json()["continue_matching"] is True
    assert client.delete(url).status_code == 204
    assert not Route.objects.filter(pk=route.pk).exists()
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"matchers": [{"field": "service", "op": "=~", "value": "pay("}]},
            "matchers",
            "matcher 1 (service =~ pay(): invalid regular expression",
        ),
        ({"matchers": [{"field": "host", "op": "=", "value": "x"}]}, "matchers", "'host'"),
        ({"matchers": "service=db"}, "matchers", "must be a list"),
        ({"severity_override": "P1"}, "severity_override", "SEV1"),
        ({"group_by": ["service", "hostname"]}, "group_by", "'hostname'"),
        ({"group_by": "service"}, "group_by", "a list of fields"),
        ({"integration": None, "is_default": True, "matchers": []}, "is_default", "integration"),
        ({"is_default": True}, "matchers", "no matchers"),
        ({"team": "nobody"}, "team", "no team 'nobody'"),
        ({"escalation_policy": 999999}, "escalation_policy", "no escalation policy"),
        ({"integration": 999999}, "integration", "no such integration"),
        ({"name": ""}, "name", ""),
        ({"position": -1}, "position", ""),
    ],
)
def test_it_refuses_an_invalid_route(floor, change, field, message):
    response = post(api_client_for(floor.manager), ROUTES, db_route(floor, **change))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid input"
    assert message in " ".join(body["fields"][field])
    assert not Route.objects.exists()


def test_it_keeps_one_default_route_per_integration(floor):
    client = api_client_for(floor.manager)
    first = post(client, ROUTES, db_route(floor, name="a", matchers=[], is_default=True)).json()
    second = post(client, ROUTES, db_route(floor, name="b", matchers=[], is_default=True)).json()
    defaults = Route.objects.filter(integration=floor.integration, is_default=True)
    assert list(defaults.values_list("pk", flat=True)) == [second["id"]]
    assert client.get(f"{ROUTES}{first['id']}/").json()["is_default"] is False


def test_it_answers_401_without_a_token(floor):
    route = route_create(name="db", integration=floor.integration)
    anonymous = Client()
    assert anonymous.get(ROUTES).status_code == 401
    assert post(anonymous, ROUTES, db_route(floor)).status_code == 401
    assert anonymous.get(f"{ROUTES}{route.pk}/").status_code == 401
    assert post(anonymous, TEST, {"alert": {"name": "x"}}).status_code == 401
    bad = Client(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.get(ROUTES).json()["error"]


def test_it_lets_members_read_but_not_write(floor):
    route = route_create(name="db", integration=floor.integration)
    alice = api_client_for(floor.alice)
    assert alice.get(f"{ROUTES}{route.pk}/").status_code == 200
    refused = post(alice, ROUTES, db_route(floor))
    assert refused.status_code == 403 and refused.json()["error"]
    assert post(alice, f"{ROUTES}{route.pk}/", {"name": "x"}, method="patch").status_code == 403
    assert alice.delete(f"{ROUTES}{route.pk}/").status_code == 403
    assert Route.objects.get().name == "db"


def test_it_hides_routes_of_integrations_an_outsider_cannot_see(floor):
    ours = route_create(name="ours", integration=floor.integration)
    theirs = route_create(name="theirs", integration=floor.vendor_integration)
    route_create(name="global")
    paul = api_client_for(floor.paul)
    assert {r["name"] for r in paul.get(ROUTES).json()["results"]} == {"theirs", "global"}
    assert paul.get(f"{ROUTES}{ours.pk}/").status_code == 404
    assert paul.get(f"{ROUTES}{theirs.pk}/").status_code == 200
    assert post(paul, TEST, {"delivery": 1}).status_code == 404
    sample = {"integration": floor.integration.pk, "payload": {"summary": "x"}}
    assert post(paul, TEST, sample).status_code == 404


def test_it_tests_a_generic_payload(floor, dba_policy):
    route_create(
        name="Databases to the DBA team",
        integration=floor.integration,
        matchers=[{"field": "service", "op": "=~", "value": ".*-db"}],
        team=floor.dba,
        escalation_policy=dba_policy,
    )
    route_create(name="fallback", integration=floor.integration, is_default=True)
    sample = {
        "integration": floor.integration.pk,
        "payload": {"summary": "replication lag", "service": "orders-db", "severity": "high"},
    }
    response = post(api_client_for(floor.alice), TEST, sample)
    assert response.status_code == 200, response.content
    [alert] = response.json()["alerts"]
    assert alert["fields"]["service"] == "orders-db" and alert["fields"]["team"] == "first-line"
    decision = alert["decision"]
    assert decision["matched"] == [{"id": decision["route"], "name": "Databases to the DBA team"}]
    assert decision["team"] == "dba" and decision["team_from"] == "the route"
    assert decision["escalation_policy"] == dba_policy.pk
    assert decision["escalation_policy_name"] == "DBA paging"
    assert decision["group_by"] == ["service", "name"] and decision["group_wait_seconds"] == 30
    assert decision["reasons"][0]["reasons"] == ["service =~ .*-db ✓"]
    assert len(decision["reasons"]) == 1  # it decided: the default was not tried


def test_it_tests_an_alertmanager_payload_with_several_alerts(floor):
    integration, _ = integration_create(
        name="Prometheus", kind="alertmanager", team=floor.first_line
    )
    route_create(
        name="Core switches to network, SEV1",
        integration=integration,
        matchers=[{"field": "labels.role", "op": "=", "value": "core-switch"}],
        team=floor.vendor,
        severity_override="SEV1",
    )
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "LinkDown",
                    "instance": "core-sw-1:9100",
                    "role": "core-switch",
                },
                "annotations": {"summary": "uplink down"},
                "fingerprint": "aaa",
            },
            {
                "status": "firing",
                "labels": {"alertname": "HighLoad", "instance": "web-1:9100"},
                "annotations": {"summary": "load high"},
                "fingerprint": "bbb",
            },
        ],
    }
    response = post(
        api_client_for(floor.manager), TEST, {"integration": integration.pk, "payload": payload}
    )
    assert response.status_code == 200, response.content
    switch, web = response.json()["alerts"]
    assert switch["fields"]["source"] == "core-sw-1"
    assert switch["decision"]["team"] == "payments-app"
    assert switch["decision"]["severity_override"] == "SEV1"
    assert web["decision"]["matched"] == [] and web["decision"]["team"] == "first-line"
    assert web["decision"]["team_from"] == "the integration"
    assert web["decision"]["reasons"][0]["reasons"] == ["labels.role = core-switch ✗ (absent)"]


def test_it_tests_a_stored_delivery(floor):
    route_create(
        name="prod",
        integration=floor.integration,
        matchers=[{"field": "labels.env", "op": "=", "value": "prod"}],
        team=floor.dba,
    )
    sent = post_alert(Client(), floor.token, {"summary": "x", "labels": {"env": "prod"}})
    delivery_id = sent.json()["delivery_id"]
    response = post(api_client_for(floor.manager), TEST, {"delivery": delivery_id})
    assert response.status_code == 200, response.content
    [alert] = response.json()["alerts"]
    assert alert["decision"]["team"] == "dba"
    assert alert["decision"]["reasons"][0]["reasons"] == ["labels.env = prod ✓"]
    assert post(api_client_for(floor.manager), TEST, {"delivery": 999999}).status_code == 404


def test_it_tests_normalized_fields(floor):
    route_create(name="global db", matchers=[{"field": "service", "op": "=", "value": "db"}])
    client = api_client_for(floor.manager)
    alone = post(client, TEST, {"alert": {"service": "db", "labels": {"env": "prod"}}}).json()
    assert alone["alerts"][0]["decision"]["matched"][0]["name"] == "global db"
    assert alone["alerts"][0]["decision"]["team"] is None  # no integration: no team known
    with_integration = post(
        client, TEST, {"alert": {"service": "db", "integration": floor.integration.pk}}
    ).json()
    assert with_integration["alerts"][0]["fields"]["team"] == "first-line"
    assert with_integration["alerts"][0]["decision"]["team"] == "first-line"


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ({"payload": {"summary": "x"}}, "integration"),
        ({}, "send one of"),
        ({"alert": {"name": "x"}, "delivery": 1}, "send one of"),
        ({"payload": ["x"], "integration": 0}, ""),
    ],
)
def test_it_refuses_an_incomplete_test_request(floor, sample, message):
    response = post(api_client_for(floor.manager), TEST, sample)
    assert response.status_code == 400
    assert message in json.dumps(response.json())


def test_it_answers_400_with_the_parsers_message(floor):
    client = api_client_for(floor.manager)
    refused = post(client, TEST, {"integration": floor.integration.pk, "payload": {"x": 1}})
    assert refused.status_code == 400
    assert refused.json() == {"error": "'summary' is required"}
    bad_fields = post(client, TEST, {"alert": {"host": "db-1"}})
    assert (
        bad_fields.status_code == 400 and "unknown alert fields host" in bad_fields.json()["error"]
    )


def test_it_says_when_the_parser_ignores_a_payload(floor):
    integration, _ = integration_create(
        name="Prometheus", kind="alertmanager", team=floor.first_line
    )
    sample = {"integration": integration.pk, "payload": {"version": "4", "alerts": []}}
    body = post(api_client_for(floor.manager), TEST, sample).json()
    assert body == {"alerts": [], "ignored": "the delivery carries no alerts"}


def test_it_routes_with_a_new_route_at_once(floor):
    fields = {"service": "orders-db", "labels": {}, "integration": floor.integration.pk}
    assert route_alert(integration=floor.integration, fields=fields).matched == ()
    route = route_create(
        name="db",
        integration=floor.integration,
        matchers=[{"field": "service", "op": "=", "value": "orders-db"}],
        team=floor.dba,
    )
    decision = route_alert(integration=floor.integration, fields=fields)
    assert decision.matched == ((route.pk, "db"),) and decision.team_id == floor.dba.pk


def test_it_asks_the_database_at_most_once_a_second(floor, django_assert_num_queries):
    route_create(name="db", integration=floor.integration, team=floor.dba)
    routes_for_integration(floor.integration.pk)
    with django_assert_num_queries(0):
        for _ in range(100):
            route_alert(integration=floor.integration, fields={"service": "x", "labels": {}})


def test_it_notices_a_route_changed_by_another_process(floor, monkeypatch):
    route = route_create(name="db", integration=floor.integration, team=floor.dba)
    assert routes_for_integration(floor.integration.pk)[0].team_id == floor.dba.pk
    # Another process's write: no in-process clear; the version check must catch it.
    Route.objects.filter(pk=route.pk).update(team=floor.first_line, updated_at=timezone.now())
    monkeypatch.setattr("alerts.routing.CACHE_CHECK_SECONDS", 0.0)
    assert routes_for_integration(floor.integration.pk)[0].team_id == floor.first_line.pk


def test_it_notices_a_deleted_escalation_policy(floor, dba_policy, monkeypatch):
    route_create(name="db", integration=floor.integration, escalation_policy=dba_policy)
    assert routes_for_integration(floor.integration.pk)[0].escalation_policy_id == dba_policy.pk
    escalation_policy_delete(policy=dba_policy)  # nulls the route's policy without a save
    monkeypatch.setattr("alerts.routing.CACHE_CHECK_SECONDS", 0.0)
    assert routes_for_integration(floor.integration.pk)[0].escalation_policy_id is None
