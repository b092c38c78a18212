"""LogicMonitor Custom HTTP Delivery, with IOC's published body template rendered."""

from datetime import UTC, datetime

import pytest

from alerts.sources import IgnoredPayload, PayloadError
from alerts.sources.logicmonitor import parse
from tests.alerts.sources import parse_one


def rendered(**changes) -> dict:
    """IOC's template as LogicMonitor renders it: every value a string."""
    body = {
        "alertid": "LMD90817",
        "alerttype": "alert",
        "alertStatus": "active",
        "level": "error",
        "host": "sql-ledger-01",
        "hostgroup": "Databases/Production",
        "datasource": "WinVolumeUsage-D:\\",
        "instance": "D:\\",
        "datapoint": "PercentUsed",
        "value": "93.4",
        "threshold": "> 90",
        "start": "2024-08-14 03:12:45 CEST",
        "startepoch": "1723597965",
        "duration": "12",
        "message": "sql-ledger-01 volume D:\\ is 93.4% full\nSee the storage runbook.",
        "service": "ledger",
    }
    body.update(changes)
    return body


def test_it_fires_an_active_alert():
    alert = parse_one(parse, rendered())
    assert alert.fingerprint == "LMD90817"
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "WinVolumeUsage-D:\\ PercentUsed"
    assert alert.summary == "sql-ledger-01 volume D:\\ is 93.4% full"
    assert alert.description == "sql-ledger-01 volume D:\\ is 93.4% full\nSee the storage runbook."
    assert alert.source == "sql-ledger-01"
    assert alert.service == "ledger"
    assert alert.started_at == datetime(2024, 8, 14, 1, 12, 45, tzinfo=UTC)
    assert alert.labels == {
        "alert_type": "alert",
        "host_group": "Databases/Production",
        "datasource": "WinVolumeUsage-D:\\",
        "instance": "D:\\",
        "datapoint": "PercentUsed",
        "value": "93.4",
        "threshold": "> 90",
        "duration": "12",
        "start": "2024-08-14 03:12:45 CEST",
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [("ack", "acknowledged"), ("clear", "resolved"), ("update", "firing"), ("ACTIVE", "firing")],
)
def test_it_follows_the_alert_status_under_one_fingerprint(status, expected):
    alert = parse_one(parse, rendered(alertStatus=status, value="41.0"))
    assert alert.status == expected
    assert alert.fingerprint == parse_one(parse, rendered()).fingerprint
    assert alert.name == parse_one(parse, rendered()).name


def test_it_ignores_a_test_delivery():
    with pytest.raises(IgnoredPayload, match="test delivery"):
        parse(rendered(alertStatus="test"), {})


@pytest.mark.parametrize(
    ("level", "severity"), [("critical", "critical"), ("error", "high"), ("warning", "warning")]
)
def test_it_maps_levels(level, severity):
    alert = parse_one(parse, rendered(level=level))
    assert alert.severity == severity
    assert "source_severity" not in alert.labels


def test_it_keeps_an_unlisted_level_as_source_severity():
    alert = parse_one(parse, rendered(level="major"))
    assert alert.severity is None
    assert alert.labels["source_severity"] == "major"


def test_it_applies_the_integrations_severity_map():
    config = {"severity_map": {"warning": "info", "major": "critical"}}
    assert parse_one(parse, rendered(level="warning"), config=config).severity == "info"
    assert parse_one(parse, rendered(level="major"), config=config).severity == "critical"
    assert parse_one(parse, rendered(level="error"), config=config).severity == "high"


def test_it_reads_the_snake_case_names_of_other_templates():
    body = {
        "alert_id": "LMS4410",
        "alert_status": "clear",
        "error_level": "critical",
        "alert_type": "websiteAlert",
        "host": "",
        "service": "public-site",
        "service_url": "https://www.example.com/",
        "detail": "www.example.com is responding again",
    }
    alert = parse_one(parse, body)
    assert alert.fingerprint == "LMS4410"
    assert alert.status == "resolved"
    assert alert.severity == "critical"
    assert alert.service == "public-site"
    assert alert.name == "websiteAlert"
    assert alert.summary == "www.example.com is responding again"
    assert alert.links == ("https://www.example.com/",)


def test_it_takes_numbers_from_a_template_written_without_quotes():
    alert = parse_one(parse, rendered(value=93.4, startepoch=1723597965, duration=12))
    assert alert.labels["value"] == "93.4"
    assert alert.started_at == datetime(2024, 8, 14, 1, 12, 45, tzinfo=UTC)


def test_it_treats_an_unrendered_service_token_as_empty():
    alert = parse_one(parse, rendered(service="##SERVICE##", datasource="##DATASOURCE##"))
    assert alert.service == ""
    assert alert.name == "D:\\ PercentUsed"
    assert "datasource" not in alert.labels


@pytest.mark.parametrize("field", ["alertid", "alertStatus"])
def test_it_refuses_an_unrendered_template(field):
    token = "##ALERTID##" if field == "alertid" else "##ALERTSTATUS##"
    with pytest.raises(PayloadError, match="template was not rendered") as caught:
        parse(rendered(**{field: token}), {})
    assert caught.value.field == field


def test_it_falls_back_to_a_name_from_the_alert_id():
    body = {"alertid": "LMD1", "alertStatus": "active"}
    alert = parse_one(parse, body)
    assert alert.name == "alert LMD1"
    assert alert.summary == "alert LMD1"


@pytest.mark.parametrize(
    ("payload", "message", "field"),
    [
        (rendered(alertid=""), "'alertid' is required", "alertid"),
        (rendered(alertStatus="exploded"), "must be active, ack or clear", "alertStatus"),
        (rendered(alertStatus=None), "must be active, ack or clear", "alertStatus"),
        (rendered(host={"name": "x"}), "'host' must be a string", "host"),
    ],
)
def test_it_refuses_malformed_bodies_with_a_clear_message(payload, message, field):
    with pytest.raises(PayloadError, match=message) as caught:
        parse(payload, {})
    assert caught.value.field == field


def test_it_refuses_a_body_that_is_not_an_object():
    with pytest.raises(PayloadError, match="JSON object"):
        parse("alertid=LMD1", {})
