"""/api/v1/services/: the catalog, its dependencies and its bulk import and export."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from alerts.catalog import dependency_add, service_create
from alerts.models import Service, ServiceDependency
from tests.base import api_client_for


@pytest.fixture
def catalog(floor) -> dict[str, Service]:
    actor = floor.manager
    services = {
        "ledger": service_create(
            name="ledger", owner_team=floor.first_line, tier=1, actor=actor, via="api"
        ),
        "ledger-db": service_create(
            name="ledger-db", kind="database", owner_team=floor.dba, actor=actor, via="api"
        ),
        "db-01": service_create(name="db-01", kind="host", actor=actor, via="api"),
        "payments": service_create(
            name="payments", owner_team=floor.vendor, actor=actor, via="api"
        ),
    }
    dependency_add(
        service=services["ledger"], depends_on=services["ledger-db"], actor=actor, via="api"
    )
    dependency_add(
        service=services["ledger-db"], depends_on=services["db-01"], actor=actor, via="api"
    )
    return services


def _json(api: Client, method: str, path: str, body=None):
    return getattr(api, method)(path, json.dumps(body), content_type="application/json")


# --- authentication and permissions ----------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/services/"),
        ("post", "/api/v1/services/"),
        ("get", "/api/v1/services/1/"),
        ("patch", "/api/v1/services/1/"),
        ("delete", "/api/v1/services/1/"),
        ("post", "/api/v1/services/import/"),
        ("get", "/api/v1/services/export/"),
        ("get", "/api/v1/services/export/?format=csv"),
    ],
)
def test_it_answers_401_without_a_token(db, method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "error" in response.json()


def test_it_refuses_writes_by_a_member(floor, catalog):
    api = api_client_for(floor.alice)
    pk = catalog["ledger"].pk
    assert api.get(f"/api/v1/services/{pk}/").status_code == 200
    refused = [
        _json(api, "post", "/api/v1/services/", {"name": "x"}),
        _json(api, "patch", f"/api/v1/services/{pk}/", {"tier": 2}),
        api.delete(f"/api/v1/services/{pk}/"),
        _json(api, "post", "/api/v1/services/import/", {"services": [{"name": "x"}]}),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert all("error" in r.json() for r in refused)
    assert not Service.objects.filter(name="x").exists()
    assert Service.objects.get(pk=pk).tier == 1


def test_it_answers_404_for_an_unknown_or_invisible_service(floor, catalog):
    assert api_client_for(floor.alice).get("/api/v1/services/999999/").status_code == 404
    paul = api_client_for(floor.paul)  # an outside team: sees what his team owns
    assert paul.get(f"/api/v1/services/{catalog['payments'].pk}/").status_code == 200
    response = paul.get(f"/api/v1/services/{catalog['ledger'].pk}/")
    assert response.status_code == 404
    assert "error" in response.json()
    assert [s["name"] for s in paul.get("/api/v1/services/").json()["results"]] == ["payments"]
    assert api_client_for(floor.manager).delete("/api/v1/services/999999/").status_code == 404


# --- list, create, detail, change, delete ----------------------------------------------------


def test_it_lists_services_with_filters(floor, catalog):
    api = api_client_for(floor.alice)
    body = api.get("/api/v1/services/").json()
    assert body["count"] == 4
    ledger = next(s for s in body["results"] if s["name"] == "ledger")
    assert ledger["owner_team"] == "first-line"
    assert (ledger["tier"], ledger["depends_on_count"], ledger["dependents_count"]) == (1, 1, 0)

    def names(**params):
        return [s["name"] for s in api.get("/api/v1/services/", params).json()["results"]]

    assert names(owner="dba") == ["ledger-db"]
    assert names(unowned="1") == ["db-01"]
    assert names(kind="host") == ["db-01"]
    assert names(q="ledger") == ["ledger", "ledger-db"]
    assert api.get("/api/v1/services/", {"kind": "toaster"}).status_code == 400


def test_a_manager_creates_a_service_with_dependencies(floor, catalog):
    api = api_client_for(floor.manager)
    response = _json(
        api,
        "post",
        "/api/v1/services/",
        {"name": "ledger-api", "owner_team": "first-line", "tier": 2, "depends_on": ["ledger"]},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["owner_team"], body["tier"], body["kind"]) == ("first-line", 2, "service")
    assert body["depends_on"] == ["ledger"]
    assert body["upstream"] == ["db-01", "ledger", "ledger-db"]
    duplicate = _json(api, "post", "/api/v1/services/", {"name": "ledger-api"})
    assert duplicate.status_code == 400
    assert "name" in duplicate.json()["fields"]
    bad = _json(api, "post", "/api/v1/services/", {"name": "z", "depends_on": ["nowhere"]})
    assert bad.status_code == 400
    assert "depends_on" in bad.json()["fields"]
    assert not Service.objects.filter(name="z").exists()


def test_the_detail_has_dependencies_both_ways(floor, catalog):
    body = api_client_for(floor.alice).get(f"/api/v1/services/{catalog['ledger-db'].pk}/").json()
    assert body["name"] == "ledger-db"
    assert (body["depends_on"], body["dependents"], body["upstream"]) == (
        ["db-01"],
        ["ledger"],
        ["db-01"],
    )


def test_a_manager_changes_a_service(floor, catalog):
    api = api_client_for(floor.manager)
    pk = catalog["db-01"].pk
    response = _json(
        api,
        "patch",
        f"/api/v1/services/{pk}/",
        {"owner_team": "dba", "tier": 3, "depends_on": ["payments"]},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["owner_team"], body["tier"], body["depends_on"]) == ("dba", 3, ["payments"])
    cleared = _json(api, "patch", f"/api/v1/services/{pk}/", {"owner_team": None})
    assert (cleared.json()["owner_team"], cleared.json()["tier"]) == (None, 3)
    renamed = _json(api, "patch", f"/api/v1/services/{pk}/", {"name": "db-99"})
    assert renamed.status_code == 400
    assert "name" in renamed.json()["fields"]
    assert _json(api, "patch", f"/api/v1/services/{pk}/", {"tier": 0}).status_code == 400
    entry = LogEntry.objects.filter(object_id=str(pk)).latest("id")
    assert entry.user == floor.manager
    assert "via api" in entry.get_change_message()


def test_a_manager_deletes_a_service(floor, catalog):
    api = api_client_for(floor.manager)
    assert api.delete(f"/api/v1/services/{catalog['ledger-db'].pk}/").status_code == 204
    assert not Service.objects.filter(name="ledger-db").exists()
    assert not ServiceDependency.objects.exists()
    assert LogEntry.objects.latest("id").get_change_message() == "Deleted (via api)."


# --- bulk import and export ------------------------------------------------------------------

IMPORT = {
    "services": [
        {"name": "ledger-db", "kind": "database", "owner_team": "dba", "tier": 1},
        {"name": "db-02", "kind": "host", "owner_team": "dba"},
        {"name": "sw-1", "kind": "network"},
    ],
    "dependencies": [["ledger-db", "db-01"], ["ledger-db", "db-02"], "db-02,sw-1"],
}


def test_it_imports_json_idempotently(floor, catalog):
    api = api_client_for(floor.manager)
    response = _json(api, "post", "/api/v1/services/import/", IMPORT)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"]) == (["db-02", "sw-1"], ["ledger-db"])
    assert (body["dependencies_added"], body["dependencies_removed"], body["errors"]) == (2, 0, [])
    again = _json(api, "post", "/api/v1/services/import/", IMPORT).json()
    assert (again["changes"], again["unchanged"]) == (0, 3)


def test_it_refuses_a_bad_import_whole(floor, catalog):
    api = api_client_for(floor.manager)
    data = {"services": [{"name": "sw-1"}, {"name": "db-02", "owner_team": "ghosts"}]}
    response = _json(api, "post", "/api/v1/services/import/", data)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "nothing imported: 1 errors"
    assert body["errors"] == [
        {"where": "services[1]", "field": "owner_team", "message": "No team 'ghosts'."}
    ]
    assert not Service.objects.filter(name="sw-1").exists()
    assert _json(api, "post", "/api/v1/services/import/", [1, 2]).status_code == 400
    assert _json(api, "post", "/api/v1/services/import/", {"services": {}}).status_code == 400
    xml = api.post("/api/v1/services/import/", "<x/>", content_type="application/xml")
    assert xml.status_code == 415


def test_it_imports_and_exports_csv(floor, catalog):
    api = api_client_for(floor.manager)
    text = "name,kind,owner_team,tier,depends_on\nsw-1,network,,,\ndb-01,host,dba,,sw-1\n"
    response = api.post("/api/v1/services/import/", text, content_type="text/csv")
    assert response.status_code == 200, response.json()
    assert (response.json()["created"], response.json()["updated"]) == (["sw-1"], ["db-01"])
    exported = api.get("/api/v1/services/export/", {"format": "csv"})
    assert exported.status_code == 200
    assert exported["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in exported["Content-Disposition"]
    csv_text = exported.content.decode()
    assert csv_text.splitlines()[0] == "name,kind,owner_team,tier,description,depends_on"
    assert "ledger-db,database,dba,,,db-01" in csv_text.splitlines()
    again = api.post("/api/v1/services/import/", csv_text, content_type="text/csv").json()
    assert (again["changes"], again["unchanged"]) == (0, 5)
    by_accept = api.get("/api/v1/services/export/", HTTP_ACCEPT="text/csv")
    assert by_accept["Content-Type"] == "text/csv; charset=utf-8"
    bad = api.post(
        "/api/v1/services/import/", "name,owner_team\nx,ghosts\n", content_type="text/csv"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["where"] == "line 2"


def test_it_exports_json_in_the_import_shape(floor, catalog):
    body = api_client_for(floor.alice).get("/api/v1/services/export/").json()
    assert set(body) == {"services", "dependencies"}
    assert {"service": "ledger-db", "depends_on": "db-01"} in body["dependencies"]
    ledger = next(s for s in body["services"] if s["name"] == "ledger")
    assert ledger == {
        "name": "ledger",
        "kind": "service",
        "owner_team": "first-line",
        "tier": 1,
        "description": "",
    }
    again = _json(api_client_for(floor.manager), "post", "/api/v1/services/import/", body)
    assert again.json()["changes"] == 0
    paul = api_client_for(floor.paul).get("/api/v1/services/export/").json()
    assert [s["name"] for s in paul["services"]] == ["payments"]
    assert paul["dependencies"] == []
