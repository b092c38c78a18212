"""Uptime Kuma's Webhook notification, as JSON and as form fields."""

import json
from datetime import UTC, datetime

import pytest

from alerts.sources import IgnoredPayload, PayloadError
from alerts.sources.uptime_kuma import parse
from tests.alerts.sources import parse_one


def kuma(status: int, *, tags=None, **monitor_changes) -> dict:
    word, mark = ("Down", "🔴") if status == 0 else ("Up", "✅")
    detail = "connect ECONNREFUSED 10.20.0.7:443" if status == 0 else "200 - OK"
    heartbeat = {
        "monitorID": 412,
        "status": status,
        "time": "2024-06-11 02:03:04.567",
        "msg": detail,
        "important": True,
        "duration": 60,
        "timezone": "Asia/Tokyo",
        "timezoneOffset": "+09:00",
        "localDateTime": "2024-06-11 11:03:04",
    }
    if status == 1:
        heartbeat["ping"] = 87
    monitor = {
        "id": 412,
        "name": "Billing portal",
        "description": None,
        "url": "https://billing.example.net/health",
        "hostname": None,
        "port": None,
        "type": "http",
        "interval": 60,
        "tags": tags if tags is not None else [],
        "maintenance": False,
    }
    monitor.update(monitor_changes)
    return {
        "heartbeat": heartbeat,
        "monitor": monitor,
        "msg": f"[Billing portal] [{mark} {word}] {detail}",
    }


def test_it_fires_when_a_monitor_goes_down():
    alert = parse_one(parse, kuma(0))
    assert alert.fingerprint == "monitor:412"
    assert alert.status == "firing"
    assert alert.severity is None
    assert alert.name == "Billing portal"
    assert alert.summary == "[Billing portal] [🔴 Down] connect ECONNREFUSED 10.20.0.7:443"
    assert alert.description == "connect ECONNREFUSED 10.20.0.7:443"
    assert alert.source == "billing.example.net"
    assert alert.service == ""
    assert alert.links == ("https://billing.example.net/health",)
    assert alert.labels == {
        "monitor_id": "412",
        "monitor_type": "http",
        "url": "https://billing.example.net/health",
    }


def test_it_reads_the_heartbeat_time_as_utc():
    # The time has no zone: Kuma writes it in UTC (localDateTime is the server's local time).
    assert parse_one(parse, kuma(0)).started_at == datetime(
        2024, 6, 11, 2, 3, 4, 567000, tzinfo=UTC
    )


def test_it_resolves_when_the_monitor_comes_back_up_under_the_same_fingerprint():
    down, up = parse_one(parse, kuma(0)), parse_one(parse, kuma(1))
    assert up.status == "resolved"
    assert up.fingerprint == down.fingerprint
    assert up.summary == "[Billing portal] [✅ Up] 200 - OK"
    assert up.ended_at == datetime(2024, 6, 11, 2, 3, 4, 567000, tzinfo=UTC)
    assert up.started_at is None


def test_it_takes_the_service_and_severity_from_monitor_tags():
    tags = [
        {"tag_id": 3, "name": "Service", "value": "billing", "color": "#059669"},
        {"tag_id": 4, "name": "severity", "value": "critical", "color": "#DC2626"},
        {"tag_id": 5, "name": "public", "value": "", "color": "#2563EB"},
    ]
    alert = parse_one(parse, kuma(0, tags=tags))
    assert alert.service == "billing"
    assert alert.severity == "critical"
    assert alert.labels["Service"] == "billing"
    assert alert.labels["public"] == ""


def test_it_keeps_an_unlisted_severity_tag_as_source_severity():
    alert = parse_one(parse, kuma(0, tags=[{"name": "severity", "value": "sev2"}]))
    assert alert.severity is None
    assert alert.labels["source_severity"] == "sev2"


def test_it_applies_the_integrations_severity_map():
    config = {"severity_map": {"sev2": "high", "warning": "info"}}
    assert (
        parse_one(
            parse, kuma(0, tags=[{"name": "severity", "value": "sev2"}]), config=config
        ).severity
        == "high"
    )
    assert (
        parse_one(
            parse, kuma(0, tags=[{"name": "severity", "value": "warning"}]), config=config
        ).severity
        == "info"
    )


def test_it_prefers_the_monitor_hostname_as_source():
    alert = parse_one(parse, kuma(0, type="ping", url="https://", hostname="nas-01.lan"))
    assert alert.source == "nas-01.lan"
    assert alert.links == ()


def test_it_ignores_a_test_notification():
    with pytest.raises(IgnoredPayload, match="test notification"):
        parse({"heartbeat": None, "monitor": None, "msg": "Uptime Kuma test 🚀"}, {})


def test_it_ignores_a_notice_that_has_no_heartbeat():
    body = kuma(0)
    body["heartbeat"] = None
    with pytest.raises(IgnoredPayload, match="without a heartbeat"):
        parse(body, {})


@pytest.mark.parametrize(("status", "reason"), [(2, "pending"), (3, "maintenance")])
def test_it_ignores_pending_and_maintenance_heartbeats(status, reason):
    body = kuma(0)
    body["heartbeat"]["status"] = status
    with pytest.raises(IgnoredPayload, match=reason):
        parse(body, {})


@pytest.mark.parametrize("field", ["data", "payload"])
def test_it_reads_the_json_from_a_form_field(field):
    alert = parse_one(parse, {field: json.dumps(kuma(0))})
    assert alert.fingerprint == "monitor:412"
    assert alert.status == "firing"


def test_it_reads_heartbeat_and_monitor_sent_as_json_text():
    body = kuma(1)
    form = {key: json.dumps(body[key]) for key in ("heartbeat", "monitor")} | {"msg": body["msg"]}
    assert parse_one(parse, form).status == "resolved"


def test_it_falls_back_to_the_heartbeat_monitor_id():
    body = kuma(0)
    del body["monitor"]["id"]
    assert parse_one(parse, body).fingerprint == "monitor:412"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"title": "disk"}, "not an Uptime Kuma webhook"),
        ({"data": "{not json"}, "'data' is not valid JSON"),
        ({"data": "[1, 2]"}, "form field 'data' must hold a JSON object"),
        ({"heartbeat": "up", "monitor": None, "msg": "x"}, "'heartbeat' is not valid JSON"),
        ({"heartbeat": [1], "monitor": None, "msg": "x"}, "'heartbeat' must be an object"),
        ({"heartbeat": {"status": 0}, "monitor": [], "msg": "x"}, "'monitor' must be an object"),
        ({"heartbeat": {"status": True}, "monitor": {"id": 1}}, "must be a number"),
        ({"heartbeat": {"status": 7}, "monitor": {"id": 1}}, "must be 0, 1, 2 or 3"),
        ({"heartbeat": {"status": 0}, "monitor": {"name": "x"}}, "'monitor.id' is required"),
        ({"heartbeat": {"status": 0}, "monitor": {"id": 1, "tags": "a"}}, "must be a list"),
    ],
)
def test_it_refuses_malformed_bodies_with_a_clear_message(payload, message):
    with pytest.raises(PayloadError, match=message):
        parse(payload, {})
