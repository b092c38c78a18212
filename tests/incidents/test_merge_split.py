"""Staff merge incidents and split an alert out; both are on the timelines and in the KPIs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from incidents.merging import incident_merge
from incidents.metrics import metrics_for_period
from incidents.models import Incident
from tests.base import api_client_for, post_alert, process


@pytest.fixture
def two(client, floor):
    post_alert(client, floor.token, {"summary": "Host down", "name": "HostDown", "source": "h1"})
    post_alert(client, floor.token, {"summary": "Host down", "name": "HostDown", "source": "h2"})
    post_alert(
        client,
        floor.token,
        {"summary": "Switch down", "name": "SwitchDown", "source": "sw1", "severity": "high"},
    )
    process()
    hosts = Incident.objects.get(title="Host down")
    switch = Incident.objects.get(title="Switch down")
    return hosts, switch


def test_merge_moves_the_alerts_and_resolves_the_duplicate(floor, two):
    hosts, switch = two
    response = api_client_for(floor.alice).post(
        f"/api/v1/incidents/{hosts.pk}/merge/",
        {"into": switch.pk},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["id"] == switch.pk
    assert response.json()["alert_count"] == 3
    hosts.refresh_from_db()
    assert (hosts.status, hosts.resolution_code, hosts.merged_into) == (
        "resolved",
        "duplicate",
        switch,
    )
    assert hosts.alert_count == 0
    assert Alert.objects.filter(incident=switch).count() == 3
    assert hosts.events.filter(kind="merged", data__into=switch.pk).exists()
    assert switch.events.filter(kind="merged", data__merged_from=hosts.pk).exists()


def test_a_merged_incident_is_left_out_of_the_kpis_and_its_alerts_count_once(floor, two):
    hosts, switch = two
    incident_merge(incident_id=hosts.pk, into_id=switch.pk, actor=floor.alice, via="api")
    api_client_for(floor.alice).post(
        f"/api/v1/incidents/{switch.pk}/resolve/",
        {"resolution_code": "fixed"},
        content_type="application/json",
    )
    now = timezone.now()
    kpis = metrics_for_period(since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert kpis["incidents_resolved"] == 1
    assert kpis["alerts_resolved"] == 3


@pytest.mark.parametrize("into", ["self", "missing", "closed"])
def test_merge_refusals(floor, two, into):
    hosts, switch = two
    api = api_client_for(floor.alice)
    if into == "self":
        target = hosts.pk
    elif into == "missing":
        target = 999999
    else:
        api.post(
            f"/api/v1/incidents/{switch.pk}/resolve/",
            {"resolution_code": "fixed"},
            content_type="application/json",
        )
        api.post(f"/api/v1/incidents/{switch.pk}/close/")
        target = switch.pk
    response = api.post(
        f"/api/v1/incidents/{hosts.pk}/merge/", {"into": target}, content_type="application/json"
    )
    assert response.status_code in (404, 409)
    hosts.refresh_from_db()
    assert hosts.is_open


def test_split_takes_one_alert_into_a_new_incident(floor, two):
    hosts, _ = two
    alert = Alert.objects.get(source="h2")
    response = api_client_for(floor.alice).post(f"/api/v1/alerts/{alert.pk}/split/")
    assert response.status_code == 201, response.content
    new = Incident.objects.get(pk=response.json()["id"])
    alert.refresh_from_db()
    hosts.refresh_from_db()
    assert alert.incident == new
    assert (hosts.alert_count, new.alert_count) == (1, 1)
    assert hosts.events.filter(kind="split", data__alert=alert.pk).exists()
    assert new.events.filter(kind="alert_attached", data__alert=alert.pk).exists()
    # A split of the last alert is refused: there is nothing to split it from.
    last = Alert.objects.get(source="h1")
    assert api_client_for(floor.alice).post(f"/api/v1/alerts/{last.pk}/split/").status_code == 409


def test_merge_and_split_from_the_incident_page(floor, two):
    hosts, switch = two
    page = floor.client_for(floor.alice)
    alert = Alert.objects.get(source="h2")
    split = page.post(f"/alerts/{alert.pk}/split/", HTTP_HX_REQUEST="true")
    assert split.status_code == 200
    assert split["HX-Push-Url"].startswith("/incidents/")
    merged = page.post(
        f"/incidents/{hosts.pk}/act/merge/", {"into": f"#{switch.number}"}, HTTP_HX_REQUEST="true"
    )
    assert merged.status_code == 200
    assert b"merged into" in merged.content
    missing = page.post(
        f"/incidents/{switch.pk}/act/merge/", {"into": "424242"}, HTTP_HX_REQUEST="true"
    )
    assert missing.status_code == 409


def test_outsiders_cannot_split_or_merge(floor, two):
    hosts, switch = two
    alert = Alert.objects.get(source="h2")
    assert api_client_for(floor.paul).post(f"/api/v1/alerts/{alert.pk}/split/").status_code == 404
    assert api_client_for(floor.olga).post(f"/api/v1/alerts/{alert.pk}/split/").status_code == 403
    for user, status in ((floor.paul, 404), (floor.olga, 403)):
        response = api_client_for(user).post(
            f"/api/v1/incidents/{hosts.pk}/merge/",
            {"into": switch.pk},
            content_type="application/json",
        )
        assert response.status_code == status
    hosts.refresh_from_db()
    assert hosts.is_open
