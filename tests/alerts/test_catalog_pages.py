"""/services/: the catalog page, a service's page, and the managers' inline edits."""

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from alerts.catalog import dependency_add, service_create
from alerts.models import Service, ServiceDependency
from tests.base import post_alert, process

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def catalog(floor) -> dict[str, Service]:
    actor = floor.manager
    services = {
        "ledger": service_create(
            name="ledger", owner_team=floor.first_line, tier=1, actor=actor, via="api"
        ),
        "ledger-db": service_create(name="ledger-db", kind="database", actor=actor, via="api"),
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


def test_it_requires_a_login(catalog):
    for path in ["/services/", f"/services/{catalog['ledger'].pk}/"]:
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    response = Client().post(f"/services/{catalog['ledger'].pk}/owner/", {"tier": "2"})
    assert response.status_code == 302
    assert Service.objects.get(name="ledger").tier == 1


def test_it_lists_the_catalog_with_unowned_badges(floor, catalog):
    response = floor.client_for(floor.alice).get("/services/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in catalog:
        assert name in page
    assert page.count('class="tag danger">unowned') == 2  # ledger-db and db-01
    assert "<select" not in page.split("<table", 1)[1]  # a member reads, does not edit
    assert 'href="/services/"' in page  # the nav link


def _rows(client, **params) -> str:
    page = client.get("/services/", params).content.decode()
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def test_it_searches_and_filters(floor, catalog):
    client = floor.client_for(floor.alice)
    unowned = _rows(client, unowned="1")
    assert "db-01" in unowned and "payments" not in unowned
    found = _rows(client, q="pay")
    assert "payments" in found and "db-01" not in found
    hosts = _rows(client, kind="host")
    assert "db-01" in hosts and "ledger-db" not in hosts


def test_a_manager_sets_owner_and_tier_inline(floor, catalog):
    client = floor.client_for(floor.manager)
    page = client.get("/services/").content.decode()
    assert 'hx-post="/services/' in page
    db = catalog["ledger-db"]
    response = client.post(
        f"/services/{db.pk}/owner/", {"owner_team": floor.dba.pk, "tier": "2"}, **HTMX
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert f'id="service-owner-{db.pk}"' in fragment
    assert "unowned" not in fragment and "Saved." in fragment
    db.refresh_from_db()
    assert (db.owner_team, db.tier) == (floor.dba, 2)
    entry = LogEntry.objects.latest("id")
    assert entry.user == floor.manager
    assert "via web" in entry.get_change_message()


def test_it_answers_a_bad_tier_with_the_reason(floor, catalog):
    db = catalog["ledger-db"]
    response = floor.client_for(floor.manager).post(f"/services/{db.pk}/owner/", {"tier": "9"})
    assert response.status_code == 400
    assert "tier" in response.content.decode().lower()
    db.refresh_from_db()
    assert db.tier is None


def test_a_form_post_without_htmx_goes_back_to_the_service(floor, catalog):
    db = catalog["ledger-db"]
    response = floor.client_for(floor.manager).post(f"/services/{db.pk}/owner/", {"tier": "3"})
    assert response.status_code == 302
    assert response["Location"] == f"/services/{db.pk}/"


def test_it_refuses_a_plain_member_403(floor, catalog):
    db = catalog["ledger-db"]
    client = floor.client_for(floor.alice)
    response = client.post(f"/services/{db.pk}/owner/", {"owner_team": floor.dba.pk}, **HTMX)
    assert response.status_code == 403
    assert "Only managers" in response.content.decode()
    add = client.post(f"/services/{db.pk}/dependencies/", {"depends_on": "ledger"}, **HTMX)
    assert add.status_code == 403
    remove = client.post(f"/services/{db.pk}/dependencies/{catalog['db-01'].pk}/remove/")
    assert remove.status_code == 403
    db.refresh_from_db()
    assert db.owner_team is None
    assert ServiceDependency.objects.count() == 2


def test_it_refuses_the_wrong_method(floor, catalog):
    client = floor.client_for(floor.manager)
    assert client.get(f"/services/{catalog['ledger'].pk}/owner/").status_code == 405
    assert client.post("/services/").status_code == 405


def test_an_outsider_sees_only_his_teams_services(floor, catalog):
    client = floor.client_for(floor.paul)
    rows = _rows(client)
    assert "payments" in rows and "ledger" not in rows
    assert client.get(f"/services/{catalog['ledger'].pk}/").status_code == 404
    assert client.get(f"/services/{catalog['payments'].pk}/").status_code == 200
    assert client.post(f"/services/{catalog['ledger'].pk}/owner/", {"tier": "2"}).status_code == 404


def test_the_service_page_shows_dependencies_and_recent_alerts(client, floor, catalog):
    post_alert(client, floor.token, {"summary": "Replication lag", "service": "ledger-db"})
    post_alert(client, floor.token, {"summary": "Disk full", "source": "ledger-db"})
    post_alert(client, floor.token, {"summary": "Unrelated", "service": "mail"})
    process()
    response = floor.client_for(floor.alice).get(f"/services/{catalog['ledger-db'].pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Replication lag" in page and "Disk full" in page and "Unrelated" not in page
    assert f'href="/services/{catalog["db-01"].pk}/"' in page  # depends on
    assert f'href="/services/{catalog["ledger"].pk}/"' in page  # dependent
    assert "remove</button>" not in page


def test_a_manager_adds_and_removes_dependencies(floor, catalog):
    client = floor.client_for(floor.manager)
    ledger = catalog["ledger"]
    added = client.post(f"/services/{ledger.pk}/dependencies/", {"depends_on": "payments"}, **HTMX)
    assert added.status_code == 200
    assert "payments" in added.content.decode()
    assert ServiceDependency.objects.filter(service=ledger, depends_on__name="payments").exists()
    unknown = client.post(f"/services/{ledger.pk}/dependencies/", {"depends_on": "nope"}, **HTMX)
    assert unknown.status_code == 400
    assert "nope" in unknown.content.decode()
    itself = client.post(f"/services/{ledger.pk}/dependencies/", {"depends_on": "ledger"}, **HTMX)
    assert itself.status_code == 400
    removed = client.post(
        f"/services/{ledger.pk}/dependencies/{catalog['payments'].pk}/remove/", **HTMX
    )
    assert removed.status_code == 200
    assert not ServiceDependency.objects.filter(
        service=ledger, depends_on__name="payments"
    ).exists()
    messages = [e.get_change_message() for e in LogEntry.objects.order_by("-id")[:2]]
    assert messages == [
        "Removed dependency on payments (via web).",
        "Added dependency on payments (via web).",
    ]


def test_the_catalog_page_costs_the_same_queries_for_more_services(floor, catalog):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = floor.client_for(floor.manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/services/").status_code == 200
        return len(captured)

    few = queries()
    for n in range(30):
        service_create(
            name=f"host-{n}", kind="host", owner_team=floor.dba, actor=floor.manager, via="api"
        )
    assert queries() == few
