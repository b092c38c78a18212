"""A newly opened upstream incident pulls in the downstream incidents opened before it, but only
those whose firing alerts all sit below it: an incident that also holds an unrelated problem
stays where it is."""

import pytest

from alerts.catalog import catalog_import
from alerts.models import Alert
from incidents.models import Incident
from tests.base import post_alert, process


@pytest.fixture
def topology(floor):
    imported = catalog_import(
        rows=[{"name": name, "kind": "host"} for name in ("sw-1", "host-a", "host-b", "host-z")],
        dependencies=[["host-a", "sw-1"], ["host-b", "sw-1"]],
        actor=floor.admin,
        via="api",
    )
    assert imported.ok, imported.errors
    return floor


def fire(client, token, source: str, name: str, n: int = 0) -> None:
    post_alert(
        client,
        token,
        {
            "summary": f"{name} on {source}",
            "name": name,
            "service": "edge",
            "source": source,
            "dedup_key": f"{name}:{source}:{n}",
        },
    )


def test_it_merges_only_incidents_that_sit_wholly_below(client, topology):
    token = topology.token
    fire(client, token, "host-a", "HostDown")
    fire(client, token, "host-b", "HostDown")
    fire(client, token, "host-a", "PacketLoss")
    fire(client, token, "host-z", "PacketLoss")  # not behind sw-1: same group, other problem
    process()
    host_down = Incident.objects.get(alerts__name="HostDown", alerts__source="host-a")
    loss = Incident.objects.get(alerts__source="host-z")

    fire(client, token, "sw-1", "SwitchDown")
    process()

    switch = Incident.objects.get(alerts__source="sw-1")
    host_down.refresh_from_db()
    loss.refresh_from_db()
    assert host_down.merged_into_id == switch.pk
    assert host_down.status == "resolved"
    assert loss.merged_into_id is None and loss.is_open
    assert set(switch.alerts.values_list("source", flat=True)) == {"sw-1", "host-a", "host-b"}
    moved = Alert.objects.filter(incident=switch).exclude(source="sw-1")
    assert set(moved.values_list("suppression", flat=True)) == {"suppressed"}
    untouched = Alert.objects.filter(incident=loss)
    assert set(untouched.values_list("suppression", flat=True)) == {""}
    switch.refresh_from_db()
    assert switch.alert_count == 3
