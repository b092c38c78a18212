"""Processing speed of one processor: stored deliveries in, alerts and incidents out.

The end-to-end rows of run.py share two cores between the web server, the load generator, the
workers and PostgreSQL; this script isolates the processing step (`deliveries_process_pending`,
in-process, on PostgreSQL) so that its cost per alert can be seen and improved. Deliveries are
the same realistic mix run.py posts (benchmarks/payloads.py: repeats, resolves, re-fires). Rows:

  baseline   decode and parse only, no database: the ceiling for this Python process
  1 route    the whole batch path: dedup, flapping, routing, grouping, timeline, recount
  500 routes the same with 500 routing rules in front of the default route

Its own database (`ioc_bench_processing`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ioc .venv/bin/python benchmarks/processing.py
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from djangodb import django_on_fresh_database  # noqa: E402

DATABASE = "ioc_bench_processing"
DELIVERIES = 6_000  # about 12,000 alerts
ROUNDS = 3


def store_deliveries(mix, integrations) -> int:
    from alerts.models import InboundEvent

    events, alerts = [], 0
    for n in range(DELIVERIES):
        request = mix[n % len(mix)]
        alerts += request.alerts
        events.append(
            InboundEvent(
                integration=integrations[request.kind],
                content_type="application/json",
                headers={},
                body=request.body,
            )
        )
    InboundEvent.objects.bulk_create(events, batch_size=1000)
    return alerts


def parse_only(mix, integrations) -> float:
    from alerts.payloads import decode_body
    from alerts.sources import source_for_kind

    started, alerts = time.perf_counter(), 0
    for n in range(DELIVERIES):
        request = mix[n % len(mix)]
        integration = integrations[request.kind]
        payload = decode_body(request.body.encode(), "application/json")
        alerts += len(source_for_kind(request.kind).parse(payload, {}, config=integration.config))
    return alerts / (time.perf_counter() - started)


def process(mix, integrations) -> tuple[float, float]:
    """Alerts/s and SQL statements per alert over ROUNDS rounds of DELIVERIES deliveries."""
    from django.db import connection

    from alerts.ingest import deliveries_process_pending

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    spent, alerts = 0.0, 0
    for _ in range(ROUNDS):
        alerts_in_round = store_deliveries(mix, integrations)
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            deliveries_process_pending()
            spent += time.perf_counter() - started
        alerts += alerts_in_round
    return alerts / spent, statements[0] / alerts


def main() -> None:
    django_on_fresh_database(DATABASE, IOC_BROADCAST_INTERVAL="3600")  # no browsers here
    from payloads import requests_mix
    from routes import routes_replace

    from alerts.models import InboundEvent
    from alerts.services import integration_create
    from teams.services import team_create

    team = team_create(name="Bench floor", slug="bench-floor", in_ioc=True)
    generic, generic_token = integration_create(name="generic", kind="generic", team=team)
    manager, manager_token = integration_create(name="am", kind="alertmanager", team=team)
    integrations = {"generic": generic, "alertmanager": manager}
    mix = requests_mix(generic_token=generic_token, alertmanager_token=manager_token)

    rows = [("baseline: decode and parse only", parse_only(mix, integrations), None)]
    # A first pass opens the incidents and alerts that the measured rounds then mostly repeat.
    store_deliveries(mix, integrations)
    from alerts.ingest import deliveries_process_pending

    deliveries_process_pending()
    for routes in (1, 500):
        routes_replace(routes - 1, team=team, integration=manager)
        rate, per_alert = process(mix, integrations)
        rows.append((f"processing, {routes} route{'s' if routes > 1 else ''}", rate, per_alert))
    failed = InboundEvent.objects.filter(status=InboundEvent.Status.FAILED).count()

    print(f"\n| {DELIVERIES * ROUNDS:,} deliveries per row | alerts/s | SQL statements/alert |")
    print("| --- | --- | --- |")
    for label, rate, per_alert in rows:
        shown = "" if per_alert is None else f"{per_alert:.2f}"
        print(f"| {label} | {rate:,.0f} | {shown} |")
    print(f"\nfailed deliveries: {failed}")


if __name__ == "__main__":
    main()
