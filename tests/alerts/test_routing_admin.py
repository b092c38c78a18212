"""Routes in the admin, and the routing tester page."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from alerts.models import Route
from alerts.routing import route_create
from alerts.services import integration_create
from tests.base import post_alert

TESTER = "/admin/alerts/route/test/"
CHANGELIST = "/admin/alerts/route/"


@pytest.fixture
def db_route(floor):
    return route_create(
        name="Databases to the DBA team",
        integration=floor.integration,
        matchers=[
            {"field": "service", "op": "=~", "value": ".*-db"},
            {"field": "labels.env", "op": "=", "value": "prod"},
        ],
        team=floor.dba,
    )


@pytest.fixture
def staff_manager(floor):
    """A manager let into the admin to look at routes (view permission only)."""
    user = get_user_model().objects.create_user("mona", password="pw-mona-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_route"))
    return floor.client_for(user)


def form(floor, payload: dict | str, **extra) -> dict:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    return {
        "integration": floor.integration.pk,
        "content_type": "application/json",
        "payload": body,
        **extra,
    }


def test_it_redirects_anonymous_visitors_to_the_login(floor):
    response = Client().get(TESTER)
    assert response.status_code == 302 and "login/?next=" in response["Location"]


def test_it_links_the_tester_from_the_route_list(floor, db_route):
    page = floor.client_for(floor.admin).get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/admin/alerts/route/test/"' in html and "Databases to the DBA team" in html
    assert "service =~ .*-db, labels.env = prod" in html


def test_it_shows_the_matching_route_and_why(floor, db_route):
    admin = floor.client_for(floor.admin)
    assert admin.get(TESTER).status_code == 200
    payload = {"summary": "lag", "service": "orders-db", "labels": {"env": "prod"}}
    page = admin.post(TESTER, form(floor, payload)).content.decode()
    assert "Matched:\n    Databases to the DBA team" in page
    assert "Team: dba (from the route)" in page
    assert "service =~ .*-db ✓" in page and "labels.env = prod ✓" in page


def test_it_shows_why_no_route_matched(floor, db_route):
    payload = {"summary": "lag", "service": "orders-db", "labels": {"env": "dev"}}
    page = floor.client_for(floor.admin).post(TESTER, form(floor, payload)).content.decode()
    assert "No route matched" in page and "Team: first-line (from the integration)" in page
    assert "labels.env = prod ✗ (was &#x27;dev&#x27;)" in page


def test_it_loads_for_a_staff_manager_with_view_permission(floor, db_route, staff_manager):
    assert staff_manager.get(TESTER).status_code == 200
    payload = {"summary": "x", "service": "a-db", "labels": {"env": "prod"}}
    page = staff_manager.post(TESTER, form(floor, payload)).content.decode()
    assert "Databases to the DBA team" in page


def test_it_refuses_staff_without_permission_on_routes(floor):
    user = get_user_model().objects.create_user("sam", password="pw-sam-123", is_staff=True)
    assert floor.client_for(user).get(TESTER).status_code == 403


def test_it_tests_a_recent_delivery(floor, db_route):
    sent = post_alert(
        Client(), floor.token, {"summary": "x", "service": "pay-db", "labels": {"env": "prod"}}
    )
    admin = floor.client_for(floor.admin)
    page = admin.get(TESTER).content.decode()
    delivery_id = sent.json()["delivery_id"]
    assert f"#{delivery_id} · Generic (first line)" in page
    result = admin.post(TESTER, {"delivery": delivery_id, "content_type": "application/json"})
    assert "Team: dba (from the route)" in result.content.decode()


def test_it_shows_the_parsers_message(floor, db_route):
    page = floor.client_for(floor.admin).post(TESTER, form(floor, {"x": 1})).content.decode()
    assert 'id="routing-error"' in page and "&#x27;summary&#x27; is required" in page
    broken = floor.client_for(floor.admin).post(TESTER, form(floor, "{not json"))
    assert "invalid JSON" in broken.content.decode()


def test_it_asks_for_a_payload_or_a_delivery(floor):
    page = floor.client_for(floor.admin).post(TESTER, {"content_type": "application/json"})
    html = page.content.decode()
    assert "pick the integration, or a delivery" in html and "paste a payload" in html


def test_it_reads_a_payload_with_its_integrations_parser(floor):
    integration, _ = integration_create(name="Prometheus", kind="alertmanager", team=floor.dba)
    route_create(
        name="Core switches",
        integration=integration,
        matchers=[{"field": "source", "op": "=~", "value": "core-sw-.*"}],
        team=floor.first_line,
        severity_override="SEV1",
    )
    payload = {
        "status": "firing",
        "alerts": [
            {"labels": {"alertname": "LinkDown", "instance": "core-sw-1:9100"}, "fingerprint": "a"}
        ],
    }
    page = (
        floor.client_for(floor.admin)
        .post(TESTER, {**form(floor, payload), "integration": integration.pk})
        .content.decode()
    )
    assert "Core switches" in page and "Severity: SEV1" in page


def test_it_validates_a_route_in_the_admin_form(floor):
    admin = floor.client_for(floor.admin)
    data = {
        "name": "broken",
        "integration": floor.integration.pk,
        "position": 0,
        "enabled": "on",
        "matchers": '[{"field": "service", "op": "=~", "value": "pay("}]',
        "severity_override": "P1",
        "group_by": "[]",
        "group_window_minutes": 0,
        "group_wait_seconds": 30,
    }
    page = admin.post("/admin/alerts/route/add/", data).content.decode()
    assert "invalid regular expression" in page and "use SEV1, SEV2, SEV3, SEV4" in page
    assert not Route.objects.exists()


def test_it_keeps_one_default_route_when_saved_in_the_admin(floor):
    old = route_create(name="old default", integration=floor.integration, is_default=True)
    data = {
        "name": "new default",
        "integration": floor.integration.pk,
        "position": 0,
        "enabled": "on",
        "is_default": "on",
        "matchers": "",
        "severity_override": "sev3",
        "group_by": "",
        "group_window_minutes": 0,
        "group_wait_seconds": 30,
    }
    response = floor.client_for(floor.admin).post("/admin/alerts/route/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    new = Route.objects.get(name="new default")
    assert new.is_default and new.matchers == [] and new.severity_override == "SEV3"
    assert new.created_by == floor.admin
    old.refresh_from_db()
    assert not old.is_default
