"""Alertmanager webhook (version 4) bodies, written here in the documented shape."""

import copy
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerts.sources import alertmanager
from alerts.sources.base import IgnoredPayload, PayloadError, stable_hash
from tests.alerts.sources import parse_one

DISK_FULL = {
    "status": "firing",
    "labels": {
        "alertname": "DiskFull",
        "instance": "db-07.lab.example:9100",
        "mountpoint": "/var/lib/pgsql",
        "severity": "critical",
        "service": "billing-db",
    },
    "annotations": {
        "summary": "Disk /var/lib/pgsql on db-07 is 97% full",
        "description": "Less than 3% left on /var/lib/pgsql.",
        "runbook_url": "https://runbooks.example.org/disk-full",
    },
    "startsAt": "2024-05-02T03:14:15.123456789+02:00",
    # Newer Alertmanagers send an endsAt in the future while the alert still fires.
    "endsAt": "2024-05-02T03:20:15.123456789+02:00",
    "generatorURL": "http://prom-lab:9090/graph?g0.expr=disk_free",
    "fingerprint": "0f3e8a7c55d21b90",
}

QUEUE_LAG = {
    "status": "resolved",
    "labels": {"alertname": "QueueLag", "host": "mq-2", "severity": "warning"},
    "annotations": {"description": "Queue orders lags 12 minutes"},
    "startsAt": "2024-05-02T01:00:00Z",
    "endsAt": "2024-05-02T01:30:00.5Z",
    "generatorURL": "http://prom-lab:9090/graph?g0.expr=queue_lag",
    "fingerprint": "77b1c0ffee000001",
}


def batch(*alerts, **fields) -> dict:
    body = {
        "version": "4",
        "groupKey": '{}/{team="storage"}:{alertname="DiskFull"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ioc\\.lab",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am-lab:9093",
        "alerts": [copy.deepcopy(alert) for alert in alerts],
    }
    body.update(fields)
    return body


def test_it_parses_a_firing_alert():
    alert = parse_one(alertmanager.parse, batch(DISK_FULL))
    assert alert.fingerprint == "0f3e8a7c55d21b90"
    assert alert.status == "firing"
    assert alert.severity == "critical"
    assert alert.name == "DiskFull"
    assert alert.summary == "Disk /var/lib/pgsql on db-07 is 97% full"
    assert alert.description == "Less than 3% left on /var/lib/pgsql."
    assert alert.source == "db-07.lab.example"
    assert alert.service == "billing-db"
    assert alert.labels == DISK_FULL["labels"]
    assert alert.links == (
        "http://prom-lab:9090/graph?g0.expr=disk_free",
        "https://runbooks.example.org/disk-full",
    )
    plus_two = timezone(timedelta(hours=2))
    assert alert.started_at == datetime(2024, 5, 2, 3, 14, 15, 123456, tzinfo=plus_two)
    assert alert.ended_at is None  # the future endsAt of a firing alert is not an end


def test_it_returns_one_alert_per_entry_with_each_alerts_own_status():
    first, second = alertmanager.parse(batch(DISK_FULL, QUEUE_LAG), {})
    assert (first.fingerprint, first.status) == ("0f3e8a7c55d21b90", "firing")
    assert (second.fingerprint, second.status) == ("77b1c0ffee000001", "resolved")
    assert second.ended_at == datetime(2024, 5, 2, 1, 30, 0, 500000, tzinfo=UTC)
    assert second.source == "mq-2"
    assert second.summary == "Queue orders lags 12 minutes"


def test_it_keeps_the_fingerprint_when_the_alert_resolves():
    resolved = {**DISK_FULL, "status": "resolved", "endsAt": "2024-05-02T03:40:00Z"}
    firing_alert = parse_one(alertmanager.parse, batch(DISK_FULL))
    resolved_alert = alertmanager.parse(batch(resolved, status="resolved"), {})[0]
    assert resolved_alert.status == "resolved"
    assert resolved_alert.fingerprint == firing_alert.fingerprint


def test_it_hashes_the_sorted_labels_when_old_alertmanager_sends_no_fingerprint():
    old = {key: value for key, value in DISK_FULL.items() if key != "fingerprint"}
    reordered = {**old, "labels": dict(reversed(list(old["labels"].items())))}
    expected = stable_hash(
        "alertname=DiskFull",
        "instance=db-07.lab.example:9100",
        "mountpoint=/var/lib/pgsql",
        "service=billing-db",
        "severity=critical",
    )
    assert parse_one(alertmanager.parse, batch(old)).fingerprint == expected
    assert (
        parse_one(alertmanager.parse, batch({**reordered, "status": "resolved"})).fingerprint
        == expected
    )


def test_it_falls_back_to_the_group_status_when_the_alert_has_none():
    old = {key: value for key, value in QUEUE_LAG.items() if key != "status"}
    [alert] = alertmanager.parse(batch(old, status="resolved"), {})
    assert alert.status == "resolved"


@pytest.mark.parametrize(
    ("raw", "severity"),
    [
        ("critical", "critical"),
        ("high", "high"),
        ("error", "high"),
        ("major", "high"),
        ("warning", "warning"),
        ("minor", "warning"),
        ("info", "info"),
        ("CRITICAL", "critical"),
    ],
)
def test_it_maps_the_severity_label(raw, severity):
    alert = parse_one(
        alertmanager.parse, batch({**DISK_FULL, "labels": {**DISK_FULL["labels"], "severity": raw}})
    )
    assert alert.severity == severity
    assert "source_severity" not in alert.labels


def test_it_leaves_an_unlisted_severity_to_the_default_and_keeps_it_as_a_label():
    alert = parse_one(
        alertmanager.parse,
        batch({**DISK_FULL, "labels": {"alertname": "Watchdog", "severity": "none"}}),
    )
    assert alert.severity is None
    assert alert.labels["source_severity"] == "none"


def test_it_has_no_severity_without_a_severity_label():
    alert = parse_one(alertmanager.parse, batch({**DISK_FULL, "labels": {"alertname": "DiskFull"}}))
    assert alert.severity is None
    assert "source_severity" not in alert.labels


def test_it_applies_the_integrations_severity_map():
    config = {"severity_map": {"Page": "critical", "warning": "info"}}
    paged = {**DISK_FULL, "labels": {"alertname": "A", "severity": "page"}}
    warned = {**DISK_FULL, "labels": {"alertname": "B", "severity": "warning"}}
    [first, second] = alertmanager.parse(batch(paged, warned), {}, config=config)
    assert (first.severity, second.severity) == ("critical", "info")
    assert "source_severity" not in first.labels


@pytest.mark.parametrize(
    ("labels", "source"),
    [
        ({"instance": "10.1.2.3:9100"}, "10.1.2.3"),
        ({"instance": "[fd00::17]:9100"}, "fd00::17"),
        ({"instance": "https://shop.example.org/health"}, "shop.example.org"),
        ({"instance": "plain-host"}, "plain-host"),
        ({"hostname": "vm-42"}, "vm-42"),
        ({"node": "k8s-worker-3"}, "k8s-worker-3"),
        ({"job": "batch"}, ""),
    ],
)
def test_it_takes_the_source_from_instance_or_host_labels(labels, source):
    alert = parse_one(
        alertmanager.parse, batch({**DISK_FULL, "labels": {"alertname": "X", **labels}})
    )
    assert alert.source == source


@pytest.mark.parametrize(
    ("annotations", "summary"),
    [
        ({"description": "only a description"}, "only a description"),
        ({"message": "only a message"}, "only a message"),
        ({}, "DiskFull"),
    ],
)
def test_it_falls_back_for_the_summary(annotations, summary):
    assert (
        parse_one(alertmanager.parse, batch({**DISK_FULL, "annotations": annotations})).summary
        == summary
    )


def test_it_names_an_alert_without_alertname_or_annotations_by_its_fingerprint():
    bare = {"status": "firing", "labels": {"job": "cron"}, "fingerprint": "00aa00aa00aa00aa"}
    alert = parse_one(alertmanager.parse, batch(bare))
    assert (alert.summary, alert.name) == ("Alert 00aa00aa00aa00aa", "")


def test_it_marks_every_alert_of_a_truncated_group():
    alerts = alertmanager.parse(batch(DISK_FULL, QUEUE_LAG, truncatedAlerts=3), {})
    assert [alert.labels["truncated_alerts"] for alert in alerts] == ["3", "3"]
    assert "truncated_alerts" not in parse_one(alertmanager.parse, batch(DISK_FULL)).labels


def test_it_reads_non_ascii_labels_and_nanosecond_offsets():
    alert = parse_one(
        alertmanager.parse,
        batch(
            {
                "status": "firing",
                "labels": {"alertname": "磁盘空间不足", "instance": "节点-1:9100"},
                "annotations": {"summary": "磁盘快满了"},
                "startsAt": "2024-01-09T08:00:00.987654321+08:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "c0c0c0c0c0c0c0c0",
            }
        ),
    )
    assert (alert.name, alert.summary, alert.source) == ("磁盘空间不足", "磁盘快满了", "节点-1")
    assert alert.started_at == datetime(2024, 1, 9, 0, 0, 0, 987654, tzinfo=UTC)


def test_it_ignores_a_delivery_without_alerts():
    with pytest.raises(IgnoredPayload, match="no alerts"):
        alertmanager.parse(batch(), {})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (["not", "an", "object"], "the body must be a JSON object"),
        ({"status": "firing"}, "'alerts' is missing: not a webhook body from Alertmanager"),
        (batch(alerts="DiskFull"), "'alerts' must be a list of alerts"),
        (batch(alerts=["DiskFull"]), "'alerts[0]' must be an object"),
        (batch({**DISK_FULL, "labels": "alertname=DiskFull"}), "'alerts[0].labels' must be"),
        (batch({**DISK_FULL, "status": "pending"}), "'alerts[0].status' must be 'firing' or"),
        (batch({"status": "firing", "labels": {}}), "'alerts[0]' has neither a fingerprint"),
        (batch({**DISK_FULL, "generatorURL": ["x"]}), "'alerts[0].generatorURL' must be a string"),
    ],
)
def test_it_refuses_malformed_bodies_with_a_clear_message(body, message):
    with pytest.raises(PayloadError) as raised:
        alertmanager.parse(body, {})
    assert str(raised.value).startswith(message)
