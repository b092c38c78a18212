"""Generic JSON with a per-integration field mapping: a tool nobody wrote a parser for."""

from datetime import UTC, datetime

import pytest

from alerts.models import Alert
from alerts.sources import generic
from alerts.sources.base import PayloadError
from tests.base import post_alert, process

TOOL_BODY = {
    "state": "alerting",
    "rule": "CertExpiry",
    "host": "web-03",
    "alert": {
        "id": "cert-web-03",
        "title": "Certificate on web-03 expires in 5 days",
        "level": "P2",
        "details": "Renew before Sunday.",
        "since": "2026-11-25T10:00:00Z",
    },
    "labels": {"service": "storefront", "dc": "fra1"},
    "targets": [{"name": "www.example.org"}, {"name": "shop.example.org"}],
}

CONFIG = {
    "mapping": {
        "summary": "alert.title",
        "severity": "alert.level",
        "status": "state",
        "fingerprint": "alert.id",
        "service": "labels.service",
        "source": "host",
        "name": "rule",
        "description": "alert.details",
        "started_at": "alert.since",
    },
    "status_map": {"alerting": "firing", "OK": "resolved"},
    "severity_map": {"p1": "critical", "P2": "high"},
}


def parse_one(body, config=CONFIG):
    [parsed] = generic.parse(body, {}, config=config)
    return parsed


# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("host", "web-03"),
        ("alert.title", "Certificate on web-03 expires in 5 days"),
        ("targets.0.name", "www.example.org"),
        ("targets.1.name", "shop.example.org"),
        ("targets.-1.name", "shop.example.org"),
        ("targets.2.name", None),  # past the end
        ("targets.first.name", None),  # a list takes indexes only
        ("alert.title.more", None),  # no stepping into a string
        ("alert.missing", None),
        ("nothing.at.all", None),
    ],
)
def test_it_resolves_dotted_paths(path, expected):
    assert generic.resolve_path(TOOL_BODY, path) == expected


# --- parsing with a mapping ---------------------------------------------------------------------


def test_it_reads_every_mapped_field():
    parsed = parse_one(TOOL_BODY)
    assert parsed.summary == "Certificate on web-03 expires in 5 days"
    assert parsed.fingerprint == "cert-web-03"
    assert parsed.status == "firing"
    assert parsed.severity == "high"
    assert parsed.service == "storefront"
    assert parsed.source == "web-03"
    assert parsed.name == "CertExpiry"
    assert parsed.description == "Renew before Sunday."
    assert parsed.started_at == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    # Not mapped: read where the plain generic body has it.
    assert parsed.labels == {"service": "storefront", "dc": "fra1"}


def test_it_translates_status_words_case_blind():
    assert parse_one({**TOOL_BODY, "state": "ok"}).status == "resolved"
    assert parse_one({**TOOL_BODY, "state": "Alerting"}).status == "firing"


def test_it_maps_numeric_statuses_as_text():
    config = {"mapping": {"status": "code"}, "status_map": {"0": "resolved", "2": "firing"}}
    assert parse_one({"summary": "x", "code": 0}, config).status == "resolved"
    assert parse_one({"summary": "x", "code": 2}, config).status == "firing"


def test_it_names_the_path_and_the_map_for_an_unknown_status_word():
    with pytest.raises(PayloadError) as error:
        parse_one({**TOOL_BODY, "state": "pending"})
    assert error.value.field == "status"
    assert "'state'" in str(error.value) and "status_map" in str(error.value)


def test_it_keeps_a_severity_outside_the_map_as_a_label():
    parsed = parse_one({**TOOL_BODY, "alert": {**TOOL_BODY["alert"], "level": "P4"}})
    assert parsed.severity is None
    assert parsed.labels["source_severity"] == "p4"


def test_it_refuses_a_missing_mapped_summary_with_the_field():
    body = {**TOOL_BODY, "summary": "a decoy in the plain field", "alert": {"id": "x"}}
    for check in (
        lambda: generic.validate(body, config=CONFIG),
        lambda: generic.parse(body, {}, config=CONFIG),
    ):
        with pytest.raises(PayloadError) as error:
            check()
        assert error.value.field == "summary"
        assert "alert.title" in str(error.value)


def test_it_refuses_a_mapped_summary_that_is_an_object():
    with pytest.raises(PayloadError) as error:
        generic.validate(TOOL_BODY, config={"mapping": {"summary": "alert"}})
    assert error.value.field == "summary"


def test_it_still_takes_the_plain_body_without_a_mapping():
    parsed = parse_one(
        {"summary": "Disk full", "severity": "critical", "dedup_key": "d", "status": "ok"},
        config={},
    )
    assert (parsed.summary, parsed.severity, parsed.fingerprint, parsed.status) == (
        "Disk full",
        "critical",
        "d",
        "resolved",
    )
    with pytest.raises(PayloadError) as error:
        generic.validate({"title": "x"})
    assert error.value.field == "summary"


def test_it_applies_the_severity_map_without_a_mapping():
    parsed = parse_one(
        {"summary": "x", "severity": "Disaster"}, {"severity_map": {"disaster": "critical"}}
    )
    assert parsed.severity == "critical"


@pytest.mark.parametrize(
    "config",
    [
        {"mapping": ["summary", "title"]},
        {"mapping": {"summary": "title", "colour": "x"}},
        {"mapping": {"summary": ""}},
        {"mapping": {"summary": "a..b"}},
        {"mapping": {"summary": 3}},
    ],
)
def test_it_fails_a_broken_mapping_in_processing_not_at_the_door(config):
    # At the door the delivery is kept (a config mistake must not make the tool drop alerts);
    # processing then fails it with a message about the integration, not the body.
    generic.validate({"title": "x"}, config=config)
    with pytest.raises(PayloadError) as error:
        generic.parse({"title": "x"}, {}, config=config)
    assert "integration config" in str(error.value)


# --- through the webhook ------------------------------------------------------------------------


@pytest.fixture
def mapped(floor):
    floor.integration.config = CONFIG
    floor.integration.save()
    return floor


def test_it_applies_the_integrations_mapping_in_processing(client, floor):
    # The summary is not mapped here, so the door's check is the plain one.
    floor.integration.config = {
        "mapping": {"fingerprint": "alert.id", "status": "state", "severity": "alert.level"},
        "status_map": {"alerting": "firing", "ok": "resolved"},
        "severity_map": {"p2": "high"},
    }
    floor.integration.save()
    body = {**TOOL_BODY, "summary": "Certificate expires"}
    assert post_alert(client, floor.token, body).status_code == 202
    process()
    alert = Alert.objects.get()
    assert (alert.fingerprint, alert.severity, alert.summary) == (
        "cert-web-03",
        "high",
        "Certificate expires",
    )
    assert post_alert(client, floor.token, {**body, "state": "OK"}).status_code == 202
    process()
    assert Alert.objects.get().status == "resolved"


def test_it_accepts_and_maps_a_tool_body(client, mapped):
    response = post_alert(client, mapped.token, TOOL_BODY)
    assert response.status_code == 202
    process()
    alert = Alert.objects.get()
    assert (alert.summary, alert.name, alert.service, alert.source) == (
        "Certificate on web-03 expires in 5 days",
        "CertExpiry",
        "storefront",
        "web-03",
    )
    assert alert.incident.title == "Certificate on web-03 expires in 5 days"


def test_it_refuses_a_body_without_the_mapped_summary(client, mapped):
    body = {**TOOL_BODY, "summary": "a decoy in the plain field", "alert": {"id": "x"}}
    response = post_alert(client, mapped.token, body)
    assert response.status_code == 400
    assert response.json()["field"] == "summary"
    assert "alert.title" in response.json()["error"]
