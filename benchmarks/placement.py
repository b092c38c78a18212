"""Routing plus grouping inside the batch path, at 500 rules and 10,000 open alerts.

The issue's budget: no more than 0.5 ms per alert on average. The script times the placement
step (alerts/placement.py: silences, routing, suppression, grouping into an incident) for every
new alert while real batches are processed, once with one route (the baseline) and once with 500,
each time with 10,000 firing alerts already stored. Its own database (`ioc_bench_placement`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ioc .venv/bin/python benchmarks/placement.py
"""

import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "ioc_bench_placement"
OPEN_ALERTS = 10_000
NEW_ALERTS = 2_000
SERVICES = [f"svc-{n:03d}" for n in range(200)]


def setup_database() -> None:
    import psycopg

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc")
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghij")
    os.environ.pop("REDIS_URL", None)
    os.environ["IOC_BROADCAST_INTERVAL"] = "3600"  # no browsers here
    os.environ["DJANGO_SETTINGS_MODULE"] = "ioc.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def make_routes(count: int, team, integration) -> None:
    from alerts.models import Route
    from alerts.routing import routes_cache_clear

    Route.objects.all().delete()
    rng = random.Random(7)
    routes = []
    for n in range(count - 1):
        service = rng.choice(SERVICES)
        matchers = [
            {"field": "service", "op": "=", "value": service},
            {"field": "labels.env", "op": "=~", "value": "prod|staging"},
        ]
        if n % 3 == 0:
            matchers.append({"field": "name", "op": "!~", "value": "Test.*"})
        routes.append(
            Route(
                name=f"r{n}",
                position=n,
                matchers=matchers,
                team=team,
                integration=integration if n % 2 else None,
            )
        )
    routes.append(Route(name="default", integration=integration, is_default=True))
    Route.objects.bulk_create(routes)
    routes_cache_clear()


def measure(label: str, routes: int, integration, team, token_body) -> dict:
    from django.db import connection

    import alerts.ingest as ingest
    from alerts.ingest import deliveries_process_pending
    from alerts.models import InboundEvent

    make_routes(routes, team, integration)
    rng = random.Random(routes)
    events = [
        InboundEvent(
            integration=integration,
            content_type="application/json",
            headers={},
            body=token_body(rng, n),
        )
        for n in range(NEW_ALERTS)
    ]
    InboundEvent.objects.bulk_create(events)
    spent = [0.0, 0]
    place = ingest.alert_route_and_attach

    def timed(**kwargs):
        started = time.perf_counter()
        try:
            return place(**kwargs)
        finally:
            spent[0] += time.perf_counter() - started
            spent[1] += 1

    ingest.alert_route_and_attach = timed
    try:
        started = time.perf_counter()
        deliveries_process_pending()
        total = time.perf_counter() - started
    finally:
        ingest.alert_route_and_attach = place
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM alerts_alert WHERE status = 'firing'")
        firing = cursor.fetchone()[0]
    return {
        "label": label,
        "routes": routes,
        "placed": spent[1],
        "firing": firing,
        "placement_ms": 1000 * spent[0] / max(spent[1], 1),
        "batch_ms": 1000 * total / NEW_ALERTS,
    }


def main() -> None:
    setup_database()
    import json
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import Alert
    from alerts.services import integration_create
    from teams.services import team_create

    team = team_create(name="Server", slug="server")
    integration, _ = integration_create(name="bench", kind="generic", team=team)
    now = timezone.now()
    Alert.objects.bulk_create(
        Alert(
            integration=integration,
            fingerprint=f"open-{n}",
            severity="warning",
            name=f"Old{n % 50}",
            summary="stored",
            source=f"host-{n}",
            service=SERVICES[n % len(SERVICES)],
            labels={"env": "prod"},
            first_seen=now - timedelta(hours=1),
            last_seen=now - timedelta(hours=1),
        )
        for n in range(OPEN_ALERTS)
    )

    def body(rng, n):
        # A realistic mix: most alerts join one of a hundred groups already open.
        return json.dumps(
            {
                "summary": f"latency high {n}",
                "name": f"Latency{n % 5}",
                "source": f"app-{rng.randint(1, 500)}",
                "severity": "high",
                "service": SERVICES[rng.randint(0, 19)],
                "labels": {"env": "prod"},
                "dedup_key": f"new-{n}-{rng.random()}",
            }
        )

    rows = [
        measure("baseline: 1 route", 1, integration, team, body),
        measure("500 routes", 500, integration, team, body),
    ]
    print()
    print(
        f"| {NEW_ALERTS:,} new alerts, {OPEN_ALERTS:,}+ firing stored | routes | placement "
        "(routing + grouping) ms/alert | whole batch path ms/alert |"
    )
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['label']} | {row['routes']} | {row['placement_ms']:.3f} | "
            f"{row['batch_ms']:.3f} |"
        )
    extra = rows[1]["placement_ms"] - rows[0]["placement_ms"]
    print(
        f"\n500 routes add {extra:.3f} ms per alert; budget 0.5 ms for routing plus grouping: "
        f"{'met' if rows[1]['placement_ms'] <= 0.5 else 'NOT met'} "
        f"({rows[1]['placement_ms']:.3f} ms at 500 routes)"
    )


if __name__ == "__main__":
    main()
