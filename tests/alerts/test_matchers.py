"""The matcher language, pure: no database. Each test reads "these matchers, this alert: this
answer, for these reasons"."""

from types import SimpleNamespace

import pytest

from alerts.matchers import (
    CompiledMatchers,
    MatcherError,
    alert_fields,
    compile_matchers,
    field_error,
)
from alerts.models import Alert, Integration
from alerts.sources import ParsedAlert
from teams.models import Team

DB_ALERT = {
    "name": "DiskFull",
    "summary": "disk 95% full on db-1",
    "description": "Filesystem /var\nis almost full",
    "severity": "critical",
    "source": "db-1.example.org",
    "service": "ledger",
    "status": "firing",
    "integration": 7,
    "kind": "alertmanager",
    "team": "first-line",
    "labels": {"env": "prod", "cluster": "eu-1", "empty": ""},
}


def match(*matchers: dict, alert: dict = DB_ALERT) -> bool:
    return compile_matchers(list(matchers)).matches(alert)


def m(field: str, op: str, value=None) -> dict:
    return (
        {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}
    )


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (m("service", "=", "ledger"), True),
        (m("service", "=", "ledge"), False),
        (m("service", "!=", "ledger"), False),
        (m("service", "!=", "payments"), True),
        (m("service", "=~", "led.*"), True),
        (m("service", "=~", "pay.*"), False),
        (m("service", "!~", "pay.*"), True),
        (m("service", "!~", "led.*"), False),
        (m("service", "exists"), True),
        (m("service", "absent"), False),
        (m("severity", "=", "critical"), True),
        (m("status", "=", "firing"), True),
        (m("kind", "=", "alertmanager"), True),
        (m("team", "=", "first-line"), True),
        (m("source", "=~", r"db-\d+\.example\.org"), True),
        (m("name", "=~", "Disk.*|Filesystem.*"), True),
        (m("summary", "=~", ".*95%.*"), True),
    ],
)
def test_it_applies_each_op_to_a_field(matcher, expected):
    assert match(matcher) is expected


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (m("labels.env", "=", "prod"), True),
        (m("labels.env", "=", "staging"), False),
        (m("labels.env", "!=", "staging"), True),
        (m("labels.env", "=~", "prod|staging"), True),
        (m("labels.env", "!~", "dev|test"), True),
        (m("labels.env", "exists"), True),
        (m("labels.env", "absent"), False),
        (m("labels.cluster", "=~", "eu-[0-9]+"), True),
    ],
)
def test_it_applies_each_op_to_a_label(matcher, expected):
    assert match(matcher) is expected


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        # A missing label (or an empty one) counts as "", as in Alertmanager.
        (m("labels.owner", "exists"), False),
        (m("labels.owner", "absent"), True),
        (m("labels.owner", "!=", "dba"), True),
        (m("labels.owner", "=", "dba"), False),
        (m("labels.owner", "=", ""), True),
        (m("labels.owner", "=~", ".*"), True),
        (m("labels.owner", "=~", ".+"), False),
        (m("labels.owner", "!~", "dba"), True),
        (m("labels.empty", "exists"), False),
        (m("labels.empty", "absent"), True),
    ],
)
def test_it_treats_a_missing_label_as_empty(matcher, expected):
    assert match(matcher) is expected


def test_it_treats_a_missing_or_empty_field_as_empty():
    bare = {"name": "Ping", "service": "", "labels": {}}
    assert match(m("service", "absent"), alert=bare)
    assert match(m("source", "absent"), alert=bare)  # not in the dict at all
    assert not match(m("service", "exists"), alert=bare)
    assert match(m("service", "!=", "ledger"), alert=bare)
    assert match(m("labels.env", "absent"), alert={"name": "no labels key"})


def test_it_anchors_regexes_at_both_ends():
    assert not match(m("service", "=~", "led"))  # "ledger" contains it, but is not it
    assert not match(m("service", "=~", "edger"))
    assert match(m("service", "=~", "ledger|payments"))
    assert not match(m("service", "=~", "ledg|pay"))  # each alternative is anchored too
    assert match(m("service", "!~", "led"))


def test_it_lets_a_regex_ignore_case_and_span_lines():
    assert match(m("service", "=~", "(?i)LEDGER"))
    assert match(m("description", "=~", "Filesystem.*full"))


def test_it_compares_the_integration_id_as_text():
    assert match(m("integration", "=", "7"))
    assert match(m("integration", "=", 7))
    assert not match(m("integration", "=", 8))
    assert match(m("integration", "=~", "[0-9]"))
    assert match(m("integration", "absent"), alert={"integration": None})


def test_it_needs_every_matcher_to_hold():
    assert match(m("service", "=", "ledger"), m("labels.env", "=", "prod"))
    assert not match(m("service", "=", "ledger"), m("labels.env", "=", "dev"))
    assert match(m("service", "exists"), m("labels.env", "exists"), m("name", "exists"))
    assert not match(m("service", "exists"), m("labels.env", "exists"), m("labels.no", "exists"))


def test_it_matches_every_alert_with_no_matchers():
    assert compile_matchers([]).matches(DB_ALERT)
    assert compile_matchers(None).matches({})
    assert compile_matchers([]).explain({}) == (True, ["no matchers: matches every alert"])


def test_it_explains_each_matcher_with_what_it_saw():
    compiled = compile_matchers(
        [
            m("labels.env", "=", "prod"),
            m("service", "=~", "pay.*"),
            m("labels.owner", "exists"),
            m("labels.env", "absent"),
            m("labels.team", "=", ""),
        ]
    )
    assert compiled.explain(DB_ALERT) == (
        False,
        [
            "labels.env = prod ✓",
            "service =~ pay.* ✗ (was 'ledger')",
            "labels.owner exists ✗ (absent)",
            "labels.env absent ✗ (was 'prod')",
            'labels.team = "" ✓',
        ],
    )


def test_it_explains_a_match():
    compiled = compile_matchers([m("service", "=", "ledger"), m("labels.env", "!~", "dev")])
    assert compiled.explain(DB_ALERT) == (True, ["service = ledger ✓", "labels.env !~ dev ✓"])


def test_it_shortens_long_values_in_reasons():
    alert = {**DB_ALERT, "summary": "x" * 500}
    ok, reasons = compile_matchers([m("summary", "=", "y")]).explain(alert)
    assert not ok and len(reasons[0]) < 100 and "…" in reasons[0]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("service=ledger", "must be a list"),
        ({"field": "service"}, "must be a list"),
        (["service = ledger"], "matcher 1 must be an object"),
        ([m("service", "=", "a"), m("host", "=", "db-1")], "matcher 2: unknown field 'host'"),
        ([m("labels.", "exists")], "matcher 1: a label field needs a name"),
        ([m("", "exists")], "matcher 1: the field must be a non-empty string"),
        ([m("service", "==", "a")], "matcher 1 (service ==): unknown op '=='"),
        ([{"field": "service", "value": "a"}], "matcher 1 (service): unknown op None"),
        ([m("service", "=")], "matcher 1 (service =): the value must be a string"),
        ([m("service", "=", True)], "the value must be a string"),
        ([m("service", "=", ["a"])], "the value must be a string"),
        ([m("service", "exists", "yes")], "matcher 1 (service exists): takes no value"),
        ([m("service", "=~", "pay(")], "matcher 1 (service =~ pay(): invalid regular expression"),
        ([{**m("service", "=", "a"), "negate": True}], "matcher 1: unknown keys negate"),
        ([m("service", "=", "x" * 1001)], "longer than 1000 characters"),
        ([{"field": "service", "op": "=", "value": {1, 2}}], "matchers must be plain JSON"),
    ],
)
def test_it_refuses_invalid_matchers_naming_the_matcher(raw, message):
    with pytest.raises(MatcherError) as caught:
        compile_matchers(raw)
    assert message in str(caught.value)


def test_it_compiles_a_list_once():
    first = compile_matchers([{"op": "=~", "field": "service", "value": "pay.*"}])
    again = compile_matchers([{"field": "service", "op": "=~", "value": "pay.*"}])
    assert first is again
    assert compile_matchers(first) is first


def test_it_normalizes_the_stored_form():
    compiled = compile_matchers(
        [{"field": "integration", "op": "=", "value": 7}, {"field": "service", "op": "exists"}]
    )
    assert compiled.as_json() == [
        {"field": "integration", "op": "=", "value": "7"},
        {"field": "service", "op": "exists"},
    ]
    assert compiled.describe() == "integration = 7, service exists"
    assert compile_matchers([]).describe() == "every alert"


def test_it_never_matches_with_invalid_stored_matchers():
    broken = CompiledMatchers.invalid("matcher 1: unknown field 'host'")
    assert not broken.matches(DB_ALERT)
    assert broken.explain(DB_ALERT) == (
        False,
        ["invalid matchers: matcher 1: unknown field 'host'"],
    )


def test_it_checks_group_key_fields_with_the_same_rule():
    assert field_error("service") is None
    assert field_error("labels.cluster") is None
    assert "unknown field" in field_error("host")
    assert field_error(3) == "the field must be a non-empty string"


def _integration():
    return SimpleNamespace(
        pk=3, kind="generic", default_severity="warning", team=SimpleNamespace(slug="dba")
    )


def test_it_builds_fields_from_a_parsed_alert_and_its_integration():
    parsed = ParsedAlert(
        fingerprint="f1",
        summary="replication lag",
        name="ReplicationLag",
        service="orders-db",
        source="db-2",
        labels={"env": "prod"},
    )
    assert alert_fields(parsed, integration=_integration()) == {
        "name": "ReplicationLag",
        "summary": "replication lag",
        "description": "",
        "severity": "warning",  # none sent: the integration's default
        "source": "db-2",
        "service": "orders-db",
        "status": "firing",
        "integration": 3,
        "kind": "generic",
        "team": "dba",
        "labels": {"env": "prod"},
    }


def test_it_builds_fields_from_a_stored_alert_without_a_query():
    team = Team(pk=2, slug="network")
    integration = Integration(pk=4, kind="zabbix", team=team, default_severity="info")
    alert = Alert(
        integration=integration,
        severity="high",
        status="resolved",
        name="LinkDown",
        summary="uplink down",
        source="core-sw-1",
        labels={"port": 48, "site": "ams"},
    )
    fields = alert_fields(alert)
    assert fields["integration"] == 4 and fields["kind"] == "zabbix" and fields["team"] == "network"
    assert fields["severity"] == "high" and fields["status"] == "resolved"
    assert fields["labels"] == {"port": "48", "site": "ams"}  # values as text
    assert alert_fields(alert, team="dba")["team"] == "dba"


def test_it_builds_fields_from_a_mapping():
    fields = alert_fields({"name": "X", "service": "db", "labels": {"env": "prod"}})
    assert fields["status"] == "firing" and fields["integration"] is None
    assert fields["source"] == "" and fields["labels"] == {"env": "prod"}
    assert alert_fields({"integration": "9"})["integration"] == 9
    assert alert_fields({"name": "X"}, integration=_integration())["team"] == "dba"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"host": "db-1"}, "unknown alert fields host"),
        ({"labels": ["env=prod"]}, "'labels' must be an object"),
        ({"labels": {"env": {"a": 1}}}, "'labels' must be an object"),
        ({"service": {"name": "db"}}, "'service' must be a string"),
        ({"integration": "seven"}, "'integration' must be an integration id"),
    ],
)
def test_it_refuses_malformed_fields(data, message):
    with pytest.raises(ValueError, match=message):
        alert_fields(data)
