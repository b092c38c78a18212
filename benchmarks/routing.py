"""Routing cost per alert, without a database: `python benchmarks/routing.py [--alerts N]`.

Builds 500 realistic routes (per-service and per-host rules, label and regex matchers, a few
`continue` rules, global rules and one default per integration) and 10,000 alert field dicts
drawn from 300 services on 10 integrations, then times `evaluate_routes` per alert the way the
batch path calls it (routes already loaded and ordered, explain off). The budget is 0.5 ms per
alert for routing and grouping together at 500 rules.

Rows: the baseline (one route), 500 routes spread over 10 integrations (each alert sees its
integration's routes plus the global ones), the worst case of all 500 applying to one
integration, and the tester's explain mode on the worst case.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The policy is pure: no settings, no database, not even django.setup().
from alerts.routing import RouteSpec, evaluate_routes, order_routes

INTEGRATIONS = 10
SERVICES = [f"svc-{n:03d}" for n in range(300)]
NAMES = ["HighLatency", "ErrorRate", "DiskFull", "InstanceDown", "CPUHigh", "OOMKilled"]
ENVS = ["prod", "staging", "dev"]
CLUSTERS = [f"k8s-{n}" for n in range(8)]


def build_routes(rng: random.Random, total: int, integrations: int) -> list[RouteSpec]:
    """`total` routes: a default per integration, a tenth global, the rest per integration."""
    routes = []
    route_id = 0

    def add(**spec):
        nonlocal route_id
        route_id += 1
        routes.append(RouteSpec(id=route_id, name=f"route {route_id}", **spec))

    for integration in range(1, integrations + 1):
        add(integration_id=integration, is_default=True, team_id=1, position=999)
    global_count = total // 10
    for position in range(global_count):
        add(
            position=position,
            matchers=[
                {"field": "labels.cluster", "op": "=", "value": rng.choice(CLUSTERS)},
                {"field": "name", "op": "=~", "value": "(Disk|Filesystem).*"},
                {"field": "severity", "op": "=", "value": "critical"},
            ],
            team_id=2,
            severity_override="SEV1",
        )
    for position in range(total - len(routes)):
        integration = 1 + position % integrations
        shape = position % 5
        service = rng.choice(SERVICES)
        if shape == 0:  # a service's routes, prod only
            matchers = [
                {"field": "service", "op": "=", "value": service},
                {"field": "labels.env", "op": "=", "value": "prod"},
            ]
        elif shape == 1:  # a family of services by regex
            matchers = [{"field": "service", "op": "=~", "value": f"{service[:6]}.*-db"}]
        elif shape == 2:  # hosts by name
            matchers = [
                {"field": "source", "op": "=~", "value": f"db-{position}[0-9]*\\.example\\.org"}
            ]
        elif shape == 3:  # a label that must exist and one that must not match
            matchers = [
                {"field": "labels.owner", "op": "exists"},
                {"field": "labels.env", "op": "!=", "value": "dev"},
                {"field": "service", "op": "=", "value": service},
            ]
        else:  # a tagging rule that lets later rules decide
            matchers = [
                {"field": "name", "op": "=", "value": rng.choice(NAMES)},
                {"field": "service", "op": "=", "value": service},
            ]
        add(
            integration_id=integration,
            position=position,
            matchers=matchers,
            team_id=3 + position % 7,
            escalation_policy_id=position % 11 or None,
            continue_matching=shape == 4,
            group_by=("service",) if shape == 1 else (),
        )
    return routes


def build_alerts(rng: random.Random, count: int, integrations: int) -> list[dict]:
    alerts = []
    for _ in range(count):
        labels = {"env": rng.choice(ENVS), "cluster": rng.choice(CLUSTERS)}
        if rng.random() < 0.3:
            labels["owner"] = "payments"
        alerts.append(
            {
                "name": rng.choice(NAMES),
                "summary": "something is wrong",
                "description": "",
                "severity": rng.choice(["critical", "high", "warning", "info"]),
                "source": f"db-{rng.randrange(2000)}.example.org",
                "service": rng.choice(SERVICES),
                "status": "firing",
                "integration": 1 + rng.randrange(integrations),
                "kind": "alertmanager",
                "team": "first-line",
                "labels": labels,
            }
        )
    return alerts


def measure(routes: list[RouteSpec], alerts: list[dict], *, explain: bool = False):
    """Mean microseconds per alert, with the routes pre-ordered per integration as
    routes_for_integration hands them out; and the share of alerts that reached the default
    route (they were tried against every applicable route)."""
    ordered = {
        integration: order_routes(routes, integration)
        for integration in {alert["integration"] for alert in alerts}
    }
    defaults = {route.id for route in routes if route.is_default}
    to_default = 0
    start = time.perf_counter()
    for fields in alerts:
        decision = evaluate_routes(ordered[fields["integration"]], fields, explain=explain)
        to_default += decision.route_id in defaults
    elapsed = time.perf_counter() - start
    return elapsed / len(alerts) * 1e6, to_default / len(alerts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--routes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    rng = random.Random(42)
    spread = build_routes(rng, args.routes, INTEGRATIONS)
    alerts = build_alerts(rng, args.alerts, INTEGRATIONS)
    one_integration = build_routes(rng, args.routes, 1)
    alerts_one = [{**alert, "integration": 1} for alert in alerts]
    baseline = [
        RouteSpec(id=1, name="only", matchers=[{"field": "service", "op": "=", "value": "x"}])
    ]
    cases = [
        ("baseline: 1 route", baseline, alerts, False),
        (f"{args.routes} routes over {INTEGRATIONS} integrations", spread, alerts, False),
        (f"{args.routes} routes on one integration", one_integration, alerts_one, False),
        ("same, explain=True (the tester)", one_integration, alerts_one[: args.alerts // 10], True),
    ]
    print(f"{'case':<40} {'applicable':>10} {'alerts':>7} {'to default':>10} {'mean µs/alert':>14}")
    for label, routes, sample, explain in cases:
        runs = [measure(routes, sample, explain=explain) for _ in range(args.repeat)]
        micros, to_default = min(runs)
        integrations = {alert["integration"] for alert in sample}
        applicable = statistics.mean(len(order_routes(routes, i)) for i in integrations)
        print(
            f"{label:<40} {applicable:>10.0f} {len(sample):>7} {to_default:>10.0%} {micros:>14.1f}"
        )
    print("\nbudget: 500 µs per alert for routing and grouping together, at 500 routes")


if __name__ == "__main__":
    main()
