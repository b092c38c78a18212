"""Every admin page a manager uses loads."""

import pytest
from django.contrib import admin

from incidents.models import Incident
from tests.base import post_alert, process


@pytest.fixture
def admin_client_with_data(client, floor):
    post_alert(client, floor.token, {"summary": "Disk full", "source": "db-01"})
    process()
    return floor.client_for(floor.admin)


def test_every_changelist_loads(admin_client_with_data):
    for model in admin.site._registry:
        meta = model._meta
        url = f"/admin/{meta.app_label}/{meta.model_name}/"
        response = admin_client_with_data.get(url)
        assert response.status_code == 200, url
        search = admin_client_with_data.get(url, {"q": "disk"})
        assert search.status_code == 200, url


def test_every_object_page_loads(admin_client_with_data):
    for model in admin.site._registry:
        meta = model._meta
        for obj in model.objects.all()[:2]:
            url = f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/change/"
            assert admin_client_with_data.get(url).status_code == 200, url


def test_the_timeline_is_read_only_in_the_admin(admin_client_with_data):
    incident = Incident.objects.get()
    event = incident.events.first()
    response = admin_client_with_data.post(
        f"/admin/incidents/incidentevent/{event.pk}/change/", {"message": "rewritten"}
    )
    assert response.status_code == 403
    assert admin_client_with_data.get("/admin/incidents/incidentevent/add/").status_code == 403


def test_creating_an_integration_in_the_admin_shows_its_url_once(admin_client_with_data, floor):
    response = admin_client_with_data.post(
        "/admin/alerts/integration/add/",
        {
            "name": "Zabbix prod",
            "kind": "generic",
            "team": floor.dba.pk,
            "enabled": "on",
            "default_severity": "warning",
            "rate_limit_per_minute": 0,
            "config": "{}",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"/integrations/" in response.content
    assert b"shown once" in response.content
