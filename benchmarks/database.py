"""The benchmark database's Django side, run as a script with the benchmark's environment:

    python benchmarks/database.py seed      # a team and two integrations; prints their tokens
    python benchmarks/database.py reset     # empty the alert, delivery and incident tables
    python benchmarks/database.py million   # store a million alerts (and their history)
    python benchmarks/database.py routes500 # 500 routing rules (routes.py); routes0 removes them

Rows are written with INSERT ... SELECT over generate_series, one statement per table. Every
column of the model is filled: the ones named here from an expression, the rest from the field's
default, so a new column with a default needs no change here.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from payloads import requests_mix  # noqa: E402
from routes import routes_replace  # noqa: E402

from alerts.models import Alert, InboundEvent, Integration  # noqa: E402
from alerts.services import integration_create  # noqa: E402
from alerts.sources import source_for_kind  # noqa: E402
from incidents.models import Incident  # noqa: E402
from teams.models import Team  # noqa: E402
from teams.services import team_create  # noqa: E402

MILLION = 1_000_000
INCIDENTS = 50_000


def seed() -> None:
    team = team_create(name="Bench floor", slug="bench-floor", in_ioc=True)
    _, generic_token = integration_create(name="bench generic", kind="generic", team=team)
    _, alertmanager_token = integration_create(
        name="bench alertmanager", kind="alertmanager", team=team
    )
    print(json.dumps({"generic": generic_token, "alertmanager": alertmanager_token}))


def reset() -> None:
    tables = [m._meta.db_table for m in (InboundEvent, Alert, Incident)]
    try:
        from alerts.models import FlapState

        tables.append(FlapState._meta.db_table)
    except ImportError:
        pass
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        # TRUNCATE, not DELETE: the timeline's append-only trigger refuses row deletes.
        names = ", ".join(quote(t) for t in tables)
        cursor.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def insert_select(model, rows: int, expressions: dict[str, str], params: dict) -> None:
    """INSERT INTO <model> SELECT ... FROM generate_series(1, rows) AS i."""
    columns, selects, values = [], [], dict(params)
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.name in expressions:
            selects.append(expressions[field.name])
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            selects.append("now()")
        else:
            default = field.get_default()
            if default is None and not field.null:
                raise SystemExit(
                    f"benchmarks/database.py: say how to fill {model.__name__}.{field.name}"
                )
            name = f"default_{field.column}"
            values[name] = field.get_db_prep_save(default, connection)
            selects.append(f"%({name})s")
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names from the models
        f"SELECT {', '.join(selects)} FROM generate_series(1, %(rows)s) AS i"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**values, "rows": rows})


def bench_fingerprints() -> tuple[list[int], list[str]]:
    """(integration id, fingerprint) pairs of every alert the benchmark sends, so that the stored
    history is the history of the same alerts: each has hundreds of resolved predecessors."""
    integrations = {i.kind: i.pk for i in Integration.objects.filter(name__startswith="bench ")}
    pairs = set()
    # The tokens only make the paths; the fingerprints come from the bodies.
    for request in requests_mix(generic_token="-", alertmanager_token="-"):  # noqa: S106
        parse = source_for_kind(request.kind).parse
        for parsed in parse(json.loads(request.body), request.headers):
            pairs.add((integrations[request.kind], parsed.fingerprint))
    ordered = sorted(pairs)
    return [p[0] for p in ordered], [p[1] for p in ordered]


def million() -> None:
    started = time.monotonic()
    team = Team.objects.get(slug="bench-floor")
    integration_ids, fingerprints = bench_fingerprints()
    ago = "now() - interval '1 second' * (i %% 20000000)"
    with transaction.atomic():
        insert_select(
            Incident,
            INCIDENTS,
            {
                "number": "10000000 + i",
                "title": "'Historical incident ' || i",
                "status": "'closed'",
                "team": "%(team)s",
                "service": "'svc-' || (i %% 20)",
                "group_key": "md5(i::text)",
                "alert_count": "20",
                "opened_at": ago,
                "acknowledged_at": ago,
                "resolved_at": ago,
                "closed_at": ago,
            },
            {"team": team.pk},
        )
        # One statement: consecutive ids from the first.
        first_incident = Incident.objects.filter(number__gt=10_000_000).order_by("pk")[0].pk
        insert_select(
            Alert,
            MILLION,
            {
                "integration": "(%(integrations)s::bigint[])[1 + i %% %(pairs)s]",
                "fingerprint": "(%(fingerprints)s::text[])[1 + i %% %(pairs)s]",
                "status": "'resolved'",
                "severity": "(ARRAY['critical', 'high', 'warning', 'info'])[1 + i %% 4]",
                "name": "'Check' || (i %% 6)",
                "summary": "'Historical alert ' || i || ' on host-' || (i %% 300)",
                "source": "'host-' || (i %% 300)",
                "service": "'svc-' || (i %% 20)",
                "labels": "jsonb_build_object('env', 'prod', 'host', 'host-' || (i %% 300))",
                "count": "1 + i %% 5",
                "incident": "%(first_incident)s + (i %% %(incidents)s)",
                "first_seen": ago,
                "last_seen": ago,
                "resolved_at": ago,
            },
            {
                "integrations": integration_ids,
                "fingerprints": fingerprints,
                "pairs": len(fingerprints),
                "first_incident": first_incident,
                "incidents": INCIDENTS,
            },
        )
        # Their deliveries, processed: the table the webhook writes to and processing claims from.
        # Within the last 6 days, so that retention (7 days by default) leaves them alone.
        recent = "now() - interval '1 second' * (i %% 500000)"
        insert_select(
            InboundEvent,
            MILLION,
            {
                "integration": "(%(integrations)s::bigint[])[1 + i %% %(pairs)s]",
                "received_at": recent,
                "content_type": "'application/json'",
                "headers": """'{"Content-Type": "application/json"}'::jsonb""",
                "body": """'{"summary": "Historical alert ' || i || '", "source": "host-' """
                """|| (i %% 300) || '", "severity": "warning"}'""",
                "status": "'processed'",
                "attempts": "1",
                "result": "jsonb_build_object('alerts', jsonb_build_array("
                "jsonb_build_object('alert', i, 'action', 'updated')))",
                "processed_at": recent,
            },
            {"integrations": integration_ids, "pairs": len(fingerprints)},
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"stored {MILLION:,} alerts, {MILLION:,} deliveries and {INCIDENTS:,} incidents "
        f"in {time.monotonic() - started:.0f} s"
    )


def routes(count: int) -> None:
    team = Team.objects.get(slug="bench-floor")
    integration = Integration.objects.get(name="bench alertmanager")
    routes_replace(count, team=team, integration=integration)


if __name__ == "__main__":
    commands = {
        "seed": seed,
        "reset": reset,
        "million": million,
        "routes0": lambda: routes(0),
        "routes500": lambda: routes(500),
    }
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: database.py {'|'.join(commands)}")
    commands[sys.argv[1]]()
