"""Zabbix bodies as IOC's media type builds them (every value a string), and the community
shape with a link."""

from datetime import UTC, datetime

import pytest

from alerts.sources import zabbix
from alerts.sources.base import PayloadError, stable_hash
from tests.alerts.sources import parse_one

PROBLEM = {
    "event_id": "884213",
    "event_name": "High CPU load on pg-replica-3 (92%)",
    "event_value": "1",
    "event_status": "PROBLEM",
    "event_severity": "High",
    "event_nseverity": "4",
    "event_opdata": "load: 92%",
    "event_tags": "service:orders-db, scope:performance, component:cpu, maintenance",
    "event_recovery_id": "{EVENT.RECOVERY.ID}",
    "event_date": "2024.03.09",
    "event_time": "04:05:06",
    "trigger_id": "23817",
    "trigger_name": "High CPU load on pg-replica-3",
    "host_name": "pg-replica-3",
    "host_ip": "10.20.4.13",
    "host_groups": "Databases, Linux servers",
    "item_name": "CPU utilization",
    "item_value": "92.4 %",
    "item_key": "system.cpu.util",
    "zabbix_url": "https://monitor.lab.example/",
}

RECOVERY = {
    **PROBLEM,
    "event_id": "884377",
    "event_value": "0",
    "event_status": "RESOLVED",
    "event_recovery_id": "884377",
    "item_value": "18.0 %",
}


def test_it_reads_a_problem():
    alert = parse_one(zabbix.parse, PROBLEM)

    assert alert.fingerprint == "trigger:23817"
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "High CPU load on pg-replica-3"
    assert alert.summary == "High CPU load on pg-replica-3 (92%)"
    assert alert.source == "pg-replica-3"
    assert alert.service == "orders-db"
    assert alert.started_at == datetime(2024, 3, 9, 4, 5, 6, tzinfo=UTC)
    assert alert.links == (
        "https://monitor.lab.example/tr_events.php?triggerid=23817&eventid=884213",
    )
    assert alert.description == (
        "Operational data: load: 92%\n"
        "Item: CPU utilization (system.cpu.util) = 92.4 %\n"
        "Host groups: Databases, Linux servers"
    )
    assert alert.labels == {
        "service": "orders-db",
        "scope": "performance",
        "component": "cpu",
        "maintenance": "",
        "event_id": "884213",
        "event_status": "PROBLEM",
        "event_opdata": "load: 92%",
        "trigger_id": "23817",
        "host_ip": "10.20.4.13",
        "host_groups": "Databases, Linux servers",
        "item_key": "system.cpu.util",
        "item_value": "92.4 %",
    }


def test_it_resolves_the_recovery_under_the_problems_fingerprint():
    # The recovery is an event of its own with another id; the trigger id is shared.
    problem, recovery = parse_one(zabbix.parse, PROBLEM), parse_one(zabbix.parse, RECOVERY)

    assert recovery.status == "resolved"
    assert recovery.fingerprint == problem.fingerprint == "trigger:23817"
    assert recovery.labels["event_recovery_id"] == "884377"


def test_it_treats_unexpanded_macros_as_empty():
    body = {
        **PROBLEM,
        "event_opdata": "*UNKNOWN*",
        "zabbix_url": "{$ZABBIX.URL}",
        "host_ip": "{HOST.IP}",
    }

    alert = parse_one(zabbix.parse, body)

    # {EVENT.RECOVERY.ID} is left as is in a problem message: still a problem.
    assert alert.status == "firing"
    assert alert.links == ()
    assert "event_recovery_id" not in alert.labels
    assert "host_ip" not in alert.labels
    assert "event_opdata" not in alert.labels


def test_it_reads_the_status_word_when_event_value_is_missing():
    body = {**RECOVERY, "event_value": "{EVENT.VALUE}", "event_recovery_id": ""}

    assert parse_one(zabbix.parse, body).status == "resolved"
    assert parse_one(zabbix.parse, {**body, "event_status": "PROBLEM"}).status == "firing"


@pytest.mark.parametrize(
    ("word", "number", "severity"),
    [
        ("Disaster", "5", "critical"),
        ("High", "4", "high"),
        ("Average", "3", "warning"),
        ("Warning", "2", "warning"),
        ("Information", "1", "info"),
        ("Not classified", "0", "info"),
    ],
)
def test_it_maps_zabbix_severities(word, number, severity):
    alert = parse_one(zabbix.parse, {**PROBLEM, "event_severity": word, "event_nseverity": number})

    assert alert.severity == severity
    assert "source_severity" not in alert.labels


def test_it_maps_the_severity_number_when_the_names_were_renamed():
    alert = parse_one(zabbix.parse, {**PROBLEM, "event_severity": "Sev-A", "event_nseverity": "5"})

    assert alert.severity == "critical"
    assert "source_severity" not in alert.labels


def test_it_keeps_an_unlisted_severity_as_a_label():
    alert = parse_one(zabbix.parse, {**PROBLEM, "event_severity": "Sev-A", "event_nseverity": "9"})

    assert alert.severity is None
    assert alert.labels["source_severity"] == "Sev-A"


def test_it_applies_the_integration_severity_map():
    config = {"severity_map": {"Average": "high", "Sev-A": "critical"}}

    assert (
        parse_one(zabbix.parse, {**PROBLEM, "event_severity": "Average"}, config=config).severity
        == "high"
    )
    renamed = {**PROBLEM, "event_severity": "Sev-A", "event_nseverity": "1"}
    assert parse_one(zabbix.parse, renamed, config=config).severity == "critical"


def test_it_reads_tags_with_colons_in_their_values():
    body = {**PROBLEM, "event_tags": "url:https://shop.lab.example:8443/cart,service: checkout "}

    alert = parse_one(zabbix.parse, body)

    assert alert.service == "checkout"
    assert alert.labels["url"] == "https://shop.lab.example:8443/cart"


def test_it_has_no_service_without_a_service_tag():
    assert parse_one(zabbix.parse, {**PROBLEM, "event_tags": "scope:availability"}).service == ""


def test_it_reads_the_community_shape_and_pairs_problem_and_ok_by_trigger_id():
    problem = {
        "hostname": "edge-router-2",
        "severity": "Disaster",
        "status": "PROBLEM",
        "item": "ICMP ping (0)",
        "trigger": "edge-router-2 is unreachable",
        "link": "https://nms.lab.example/tr_events.php?triggerid=5521&eventid=90001",
    }
    ok = {
        **problem,
        "status": "OK",
        "trigger": "edge-router-2 is reachable again",
        "link": "https://nms.lab.example/tr_events.php?triggerid=5521&eventid=90007",
    }

    fired, resolved = parse_one(zabbix.parse, problem), parse_one(zabbix.parse, ok)

    assert (fired.status, resolved.status) == ("firing", "resolved")
    assert fired.fingerprint == resolved.fingerprint == "trigger:5521"
    assert fired.severity == "critical"
    assert fired.name == fired.summary == "edge-router-2 is unreachable"
    assert fired.source == "edge-router-2"
    assert fired.labels == {"trigger_id": "5521", "event_id": "90001", "item": "ICMP ping (0)"}
    assert fired.links == (problem["link"],)


def test_it_hashes_a_community_body_without_a_link():
    body = {"hostname": "nas-1", "severity": "Warning", "status": "PROBLEM", "trigger": "Disk slow"}

    alert = parse_one(zabbix.parse, body)

    assert alert.fingerprint == stable_hash("nas-1", "Disk slow")
    assert alert.severity == "warning"


def test_it_refuses_a_body_that_is_not_the_media_type():
    with pytest.raises(PayloadError, match="'trigger_id' and 'event_value' are missing"):
        zabbix.parse({"subject": "Problem: disk full"}, {})


def test_it_refuses_a_problem_without_trigger_id():
    with pytest.raises(PayloadError, match=r"set the media type parameter trigger_id") as error:
        zabbix.parse({**PROBLEM, "trigger_id": "{TRIGGER.ID}"}, {})
    assert error.value.field == "trigger_id"


def test_it_refuses_an_unknown_event_value():
    body = {**PROBLEM, "event_value": "7", "event_status": "", "event_recovery_id": ""}

    with pytest.raises(PayloadError, match="'event_value' must be 1"):
        zabbix.parse(body, {})


def test_it_refuses_an_object_where_a_string_belongs():
    with pytest.raises(PayloadError, match="'host_name' must be a string") as error:
        zabbix.parse({**PROBLEM, "host_name": {"name": "pg-replica-3"}}, {})
    assert error.value.field == "host_name"


def test_it_refuses_a_body_that_is_not_an_object():
    with pytest.raises(PayloadError, match="JSON object"):
        zabbix.parse(["884213"], {})


def test_it_refuses_a_community_body_with_an_unknown_status():
    body = {"hostname": "nas-1", "status": "MAYBE", "trigger": "Disk slow"}

    with pytest.raises(PayloadError, match="'status' must be PROBLEM, RESOLVED or OK"):
        zabbix.parse(body, {})
