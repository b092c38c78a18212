"""GET /healthz: 200 while the database answers; background trouble only in the body."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.test import Client
from django.utils import timezone

from alerts.models import InboundEvent
from tests.base import post_alert

ROOT = Path(__file__).resolve().parent.parent


def test_it_reports_ok(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert body["pending_deliveries"] == 0


def test_a_processing_backlog_is_reported_in_the_body_not_the_status(client, floor):
    post_alert(client, floor.token, {"summary": "x"})
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["pending_deliveries"] == 1
    assert body["oldest_pending_seconds"] >= 299
    assert body["processing"] == "lagging"


def test_redis_down_is_reported_in_the_body_not_the_status(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["redis"] == "down"


def test_it_answers_503_when_the_database_is_down():
    # A separate process whose database is a PostgreSQL port nobody listens on.
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz', HTTP_HOST='127.0.0.1');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/ioc",
        "DATABASE_POOL_TIMEOUT": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["database"] == "down"


def test_a_stalled_escalation_sweeper_is_reported_in_the_body(floor):
    from incidents.escalation_models import EscalationPolicy, EscalationStep
    from incidents.services import incident_open

    policy = EscalationPolicy.objects.create(name="p", team=floor.first_line, is_default=True)
    EscalationStep.objects.create(policy=policy, position=1, kind="notify_manager")
    healthy = Client().get("/healthz").json()
    assert healthy["escalations"] == "ok"
    incident = incident_open(team=floor.first_line, title="x", severity="SEV3")
    # Nobody swept for five minutes: the step is long overdue.
    incident.escalation.__class__.objects.filter(pk=incident.escalation.pk).update(
        next_at=timezone.now() - timedelta(minutes=5)
    )
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["escalations"] == "stalled"
    assert response.json()["escalations_overdue_seconds"] >= 299
