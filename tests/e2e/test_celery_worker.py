"""Production mode's background work: a real Celery worker on Redis processes what the webhook
accepted, and the sweep finishes what no worker picked up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from alerts.models import Alert, InboundEvent
from tests.base import Floor, post_alert, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    # The worker must use the test database, which the test process created.
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/"
        f"{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ioc",
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    assert wait_for(lambda: "ready" in (tmp_path / "worker.log").read_text(), 60), (
        tmp_path / "worker.log"
    ).read_text()
    yield worker
    worker.terminate()
    worker.wait(timeout=30)
    log.close()


def test_a_celery_worker_processes_an_accepted_delivery(celery_worker, client):
    floor = Floor()
    response = post_alert(
        client,
        floor.token,
        {"summary": "Tablespace 98% full", "severity": "critical", "service": "core-db"},
    )
    assert response.status_code == 202
    assert wait_for(lambda: Alert.objects.filter(summary="Tablespace 98% full").exists(), 30)
    alert = Alert.objects.get()
    assert alert.incident.severity == "SEV2"
    assert InboundEvent.objects.get().status == "processed"
