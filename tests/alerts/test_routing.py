"""Route evaluation, pure: plain RouteSpecs and field dicts, no database."""

from alerts.matchers import CompiledMatchers
from alerts.models import Route
from alerts.routing import (
    DEFAULT_GROUP_BY,
    DEFAULT_ROUTE_REASON,
    RouteSpec,
    evaluate_routes,
    order_routes,
    route_spec_from,
)

INTEGRATION = 1
OTHER = 2


def fields(**overrides) -> dict:
    labels = overrides.pop("labels", {"env": "prod"})
    return {
        "name": "DiskFull",
        "summary": "disk full",
        "description": "",
        "severity": "critical",
        "source": "db-1",
        "service": "orders-db",
        "status": "firing",
        "integration": INTEGRATION,
        "kind": "generic",
        "team": "first-line",
        "labels": labels,
        **overrides,
    }


def route(route_id: int, *matchers: dict, **spec) -> RouteSpec:
    spec.setdefault("name", f"r{route_id}")
    return RouteSpec(id=route_id, matchers=list(matchers), **spec)


def on(value: str, field: str = "service", op: str = "=") -> dict:
    return {"field": field, "op": op, "value": value}


def tried(decision) -> list:
    return [trial.name for trial in decision.reasons]


def test_it_tries_the_integrations_routes_then_global_then_the_default():
    routes = [
        route(1, on("x"), name="global b", position=2),
        route(2, name="default", integration_id=INTEGRATION, is_default=True, position=0),
        route(3, on("x"), name="own b", integration_id=INTEGRATION, position=5),
        route(4, on("x"), name="global a", position=1),
        route(5, on("x"), name="own a", integration_id=INTEGRATION, position=3),
    ]
    decision = evaluate_routes(routes, fields(), explain=True)
    assert tried(decision) == ["own a", "own b", "global a", "global b", "default"]
    assert decision.matched == ((2, "default"),)
    assert decision.route_id == 2


def test_it_breaks_position_ties_by_id():
    routes = [route(9, on("x"), position=1), route(4, on("x"), position=1)]
    assert tried(evaluate_routes(routes, fields(), explain=True)) == ["r4", "r9"]


def test_it_leaves_out_other_integrations_and_disabled_routes():
    routes = [
        route(1, name="theirs", integration_id=OTHER, team_id=8),
        route(2, name="theirs default", integration_id=OTHER, is_default=True, team_id=8),
        route(3, name="off", enabled=False, team_id=9),
        route(4, on("x"), name="global"),
    ]
    decision = evaluate_routes(routes, fields(), explain=True)
    assert tried(decision) == ["global"]
    assert decision.matched == () and decision.team_id is None


def test_it_uses_only_global_routes_without_an_integration():
    routes = [route(1, name="own", integration_id=INTEGRATION, team_id=3), route(2, team_id=4)]
    decision = evaluate_routes(routes, fields(integration=None))
    assert decision.matched == ((2, "r2"),) and decision.team_id == 4


def test_it_stops_at_the_first_match():
    routes = [
        route(1, on("web"), team_id=1),
        route(2, on("orders-db"), team_id=2, escalation_policy_id=20, severity_override="SEV2"),
        route(3, on("orders-db"), team_id=3, escalation_policy_id=30),
        route(4, integration_id=INTEGRATION, is_default=True, team_id=4),
    ]
    decision = evaluate_routes(routes, fields(), explain=True)
    assert decision.matched == ((2, "r2"),)
    assert (decision.team_id, decision.escalation_policy_id) == (2, 20)
    assert decision.severity_override == "SEV2"
    assert tried(decision) == ["r1", "r2"]  # r3 and the default were not tried


def test_it_goes_on_after_a_continue_route_and_fills_in_unset_settings():
    routes = [
        route(1, on("prod", "labels.env"), severity_override="SEV1", continue_matching=True),
        route(2, on("orders-db"), team_id=2, escalation_policy_id=20),
    ]
    decision = evaluate_routes(routes, fields())
    assert decision.matched == ((1, "r1"), (2, "r2"))
    assert decision.severity_override == "SEV1"
    assert (decision.team_id, decision.escalation_policy_id) == (2, 20)
    assert decision.route_id == 2
    assert decision.set_by == {"severity_override": 1, "team_id": 2, "escalation_policy_id": 2}


def test_it_keeps_the_first_value_of_a_setting_when_later_routes_set_it_too():
    routes = [
        route(
            1,
            on("prod", "labels.env"),
            team_id=1,
            escalation_policy_id=10,
            severity_override="SEV1",
            group_by=("service",),
            group_window_minutes=15,
            group_wait_seconds=0,
            continue_matching=True,
        ),
        route(
            2,
            team_id=2,
            escalation_policy_id=20,
            severity_override="SEV3",
            group_by=("name",),
            group_window_minutes=60,
            group_wait_seconds=120,
        ),
    ]
    decision = evaluate_routes(routes, fields())
    assert decision.matched == ((1, "r1"), (2, "r2"))
    assert decision.team_id == 1
    assert decision.escalation_policy_id == 10
    assert decision.severity_override == "SEV1"
    assert decision.group_by == ("service",)
    assert decision.group_window_minutes == 15
    assert decision.group_wait_seconds == 0  # zero is a setting, not "unset"
    assert set(decision.set_by.values()) == {1}


def test_it_treats_the_owner_as_one_setting():
    routes = [
        route(1, use_service_owner=True, continue_matching=True),
        route(2, team_id=2),
    ]
    decision = evaluate_routes(routes, fields())
    assert decision.use_service_owner is True
    assert decision.team_id is None  # route 1 chose the owner; route 2's team does not apply
    fallback = evaluate_routes([route(1, use_service_owner=True, team_id=5)], fields())
    assert (fallback.use_service_owner, fallback.team_id) == (True, 5)


def test_it_reaches_the_default_route_after_continue_routes():
    routes = [
        route(1, on("prod", "labels.env"), severity_override="SEV2", continue_matching=True),
        route(2, on("web"), team_id=2),
        route(3, integration_id=INTEGRATION, is_default=True, team_id=3, escalation_policy_id=30),
    ]
    decision = evaluate_routes(routes, fields(), explain=True)
    assert decision.matched == ((1, "r1"), (3, "r3"))
    assert (decision.team_id, decision.escalation_policy_id) == (3, 30)
    assert decision.severity_override == "SEV2"
    assert decision.route_id == 3
    default_trial = decision.reasons[-1]
    assert default_trial.reasons == (DEFAULT_ROUTE_REASON,)
    assert default_trial.note == "matched: decides"


def test_it_takes_every_alert_at_the_default_route_whatever_its_matchers():
    routes = [route(1, on("never"), integration_id=INTEGRATION, is_default=True, team_id=3)]
    assert evaluate_routes(routes, fields()).matched == ((1, "r1"),)


def test_it_uses_only_the_first_default_route():
    routes = [
        route(1, integration_id=INTEGRATION, is_default=True, team_id=3, position=2),
        route(2, integration_id=INTEGRATION, is_default=True, team_id=4, position=1),
    ]
    decision = evaluate_routes(routes, fields(), explain=True)
    assert decision.matched == ((2, "r2"),) and tried(decision) == ["r2"]


def test_it_decides_nothing_without_routes():
    decision = evaluate_routes([], fields(), explain=True)
    assert decision.matched == () and decision.route_id is None and decision.reasons == ()
    assert decision.team_id is None and decision.use_service_owner is False
    assert decision.escalation_policy_id is None and decision.severity_override == ""
    assert decision.group_by == DEFAULT_GROUP_BY == ("service", "name")
    assert decision.group_window_minutes == 0
    assert decision.group_wait_seconds == 30
    assert decision.set_by == {}


def test_it_keeps_the_group_defaults_when_matching_routes_set_none():
    decision = evaluate_routes([route(1, team_id=2)], fields())
    assert decision.group_by == ("service", "name")
    assert (decision.group_window_minutes, decision.group_wait_seconds) == (0, 30)


def test_it_names_the_last_match_when_only_continue_routes_matched():
    routes = [
        route(1, team_id=1, continue_matching=True),
        route(2, on("web")),
        route(3, severity_override="SEV4", continue_matching=True),
    ]
    decision = evaluate_routes(routes, fields())
    assert decision.matched == ((1, "r1"), (3, "r3")) and decision.route_id == 3


def test_it_explains_every_route_tried():
    routes = [
        route(1, on("web"), on("prod", "labels.env"), name="web"),
        route(2, on("orders-.*", op="=~"), name="orders", continue_matching=True),
        route(3, {"field": "labels.owner", "op": "exists"}, name="owned"),
    ]
    decision = evaluate_routes(routes, fields(), explain=True)
    assert [t.as_dict() for t in decision.reasons] == [
        {
            "route": 1,
            "name": "web",
            "matched": False,
            "note": "",
            "reasons": ["service = web ✗ (was 'orders-db')", "labels.env = prod ✓"],
        },
        {
            "route": 2,
            "name": "orders",
            "matched": True,
            "note": "matched: continues to later routes",
            "reasons": ["service =~ orders-.* ✓"],
        },
        {
            "route": 3,
            "name": "owned",
            "matched": False,
            "note": "",
            "reasons": ["labels.owner exists ✗ (absent)"],
        },
    ]


def test_it_gives_reasons_only_for_matches_without_explain():
    routes = [route(1, on("web")), route(2, on("orders-db"))]
    decision = evaluate_routes(routes, fields())
    assert [(t.route_id, t.matched, t.reasons) for t in decision.reasons] == [
        (2, True, ("service = orders-db ✓",))
    ]


def test_it_skips_a_route_whose_stored_matchers_are_broken():
    broken = RouteSpec(id=1, name="broken", matchers=CompiledMatchers.invalid("bad regex"))
    decision = evaluate_routes([broken, route(2, team_id=2)], fields(), explain=True)
    assert decision.matched == ((2, "r2"),)
    assert decision.reasons[0].reasons == ("invalid matchers: bad regex",)


def test_it_matches_labels_and_regexes_in_routes():
    network = [
        route(1, on("core-sw-.*", "source", "=~"), team_id=7, severity_override="SEV1"),
        route(2, {"field": "labels.role", "op": "=", "value": "database"}, team_id=3),
    ]
    switch = evaluate_routes(network, fields(source="core-sw-1", labels={}))
    assert (switch.team_id, switch.severity_override) == (7, "SEV1")
    database = evaluate_routes(network, fields(labels={"role": "database"}))
    assert database.team_id == 3
    neither = evaluate_routes(network, fields(source="access-sw-1", labels={}))
    assert neither.matched == ()


def test_it_orders_once_and_reuses_the_order():
    routes = [route(2, position=1), route(1, position=0, integration_id=INTEGRATION)]
    ordered = order_routes(routes, INTEGRATION)
    assert [r.id for r in ordered] == [1, 2]
    assert order_routes(ordered, INTEGRATION) is ordered
    assert [r.id for r in order_routes(ordered, OTHER)] == [2]


def test_it_turns_a_stored_route_into_a_spec():
    row = Route(
        pk=5,
        name="db",
        integration_id=3,
        position=2,
        matchers=[{"field": "service", "op": "=~", "value": "db-.*"}],
        team_id=4,
        severity_override="SEV2",
        group_by=["service"],
    )
    spec = route_spec_from(row)
    assert (spec.id, spec.integration_id, spec.position, spec.team_id) == (5, 3, 2, 4)
    assert spec.matchers.describe() == "service =~ db-.*"
    assert spec.group_by == ("service",)
    # The model's defaults (window 0, wait 30) mean "not set by this route".
    assert spec.group_window_minutes is None and spec.group_wait_seconds is None
    row.group_window_minutes, row.group_wait_seconds = 10, 0
    assert (route_spec_from(row).group_window_minutes, route_spec_from(row).group_wait_seconds) == (
        10,
        0,
    )


def test_it_turns_a_stored_route_with_broken_matchers_into_one_that_never_matches():
    row = Route(pk=6, name="bad", matchers=[{"field": "host", "op": "=", "value": "x"}])
    spec = route_spec_from(row)
    assert spec.matchers.error.startswith("matcher 1: unknown field 'host'")
    assert evaluate_routes([spec], fields()).matched == ()


def test_it_serializes_a_decision():
    decision = evaluate_routes([route(1, team_id=2, group_by=("labels.cluster",))], fields())
    data = decision.as_dict()
    assert data["matched"] == [{"id": 1, "name": "r1"}]
    assert data["route"] == 1 and data["team_id"] == 2
    assert data["group_by"] == ["labels.cluster"] and data["group_wait_seconds"] == 30
    assert data["reasons"][0]["matched"] is True
