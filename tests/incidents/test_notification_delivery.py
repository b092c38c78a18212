"""Sending pages: outcome recorded on the row and the timeline, retries against a failing local
HTTP sink, and a real Celery worker SIGKILLed in the middle of an escalation step still pages
exactly once after a restart."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from incidents import escalation_engine as engine
from incidents import notifications, services
from incidents.escalation_models import EscalationPolicy, EscalationStep, Notification
from teams.models import ContactMethod, NotificationRule
from tests.base import wait_for
from tests.incidents.test_notify_sinks import Reply, http_sink_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


def paged_by_webhook(floor, url: str):
    method = ContactMethod.objects.create(user=floor.alice, kind="webhook", address=url)
    NotificationRule.objects.create(user=floor.alice, contact_method=method)
    policy = EscalationPolicy.objects.create(name="p", team=floor.first_line, is_default=True)
    step = EscalationStep.objects.create(policy=policy, position=1, kind="notify_users")
    step.users.set([floor.alice])
    incident = services.incident_open(
        team=floor.first_line, title="Core switch down", severity="SEV3"
    )
    engine.escalations_run_due()
    return incident


def test_a_sent_page_carries_its_key_and_is_on_the_timeline(floor, http_sink):
    incident = paged_by_webhook(floor, http_sink.url + "/hook")
    assert notifications.notifications_deliver_due() == 1
    row = Notification.objects.get()
    assert row.status == "sent"
    assert http_sink.last.headers["idempotency-key"] == row.key
    assert http_sink.last.json()["title"] == "Core switch down"
    event = incident.events.get(kind="notification")
    assert event.data["status"] == "sent"
    assert event.message == "Notified alice by webhook"


def test_a_transient_failure_is_retried_with_backoff(floor, http_sink):
    http_sink.answer(500, 200)
    paged_by_webhook(floor, http_sink.url + "/hook")
    notifications.notifications_deliver_due()
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.due_at > timezone.now() + timedelta(seconds=10)
    assert "500" in row.last_error
    # Not due yet: nothing is sent.
    assert notifications.notifications_deliver_due() == 0
    notifications.notification_deliver_one(now=row.due_at + timedelta(seconds=1))
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    keys = [request.headers["idempotency-key"] for request in http_sink.requests]
    assert keys == [row.key, row.key]


def test_a_permanent_failure_is_recorded_on_the_timeline(floor, http_sink):
    http_sink.answer(400)
    incident = paged_by_webhook(floor, http_sink.url + "/hook")
    notifications.notifications_deliver_due()
    row = Notification.objects.get()
    assert row.status == "failed"
    event = incident.events.get(kind="notification")
    assert event.data["status"] == "failed"
    assert "failed" in event.message
    assert http_sink.url not in event.message


def test_attempts_are_capped(floor, http_sink, settings):
    settings.IOC_NOTIFY_MAX_ATTEMPTS = 2
    http_sink.answer(503, 503, 503)
    paged_by_webhook(floor, http_sink.url + "/hook")
    for hours in (1, 2, 3):
        notifications.notification_deliver_one(now=timezone.now() + timedelta(hours=hours))
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("failed", 2)
    assert len(http_sink.requests) == 2


# --- a real worker killed mid-step ----------------------------------------------------------------


def _worker(tmp_path, name: str) -> subprocess.Popen:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/"
        f"{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - the process owns it
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ioc",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"{name}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _admin():
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    )


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_step_pages_exactly_once_after_restart(tmp_path, http_sink):
    from incidents.tasks import escalations_sweep
    from tests.base import Floor

    floor = Floor()
    method = ContactMethod.objects.create(
        user=floor.alice, kind="webhook", address=http_sink.url + "/p"
    )
    NotificationRule.objects.create(user=floor.alice, contact_method=method)
    policy = EscalationPolicy.objects.create(name="p", team=floor.first_line, is_default=True)
    step = EscalationStep.objects.create(policy=policy, position=1, kind="notify_users")
    step.users.set([floor.alice])
    incident = services.incident_open(team=floor.first_line, title="Killed", severity="SEV3")
    key = engine.notification_key(
        incident_id=incident.pk,
        run=1,
        step=1,
        repeat=0,
        user_id=floor.alice.pk,
        contact_method_id=ContactMethod.objects.get().pk,
        rule=0,
    )

    # Hold the notification's key in an open transaction of our own: the worker will claim the
    # escalation step and then block on that key. That is the moment we kill it.
    blocker = _admin()
    blocker.autocommit = False
    blocker.execute(
        "INSERT INTO incidents_notification (key, incident_id, run, step, repeat, rule_position, "
        "channel, address, purpose, status, due_at, attempts, last_error, created_at) VALUES "
        "(%s, %s, 1, 1, 0, 0, 'webhook', 'x', 'page', 'cancelled', now(), 0, '', now())",
        [key, incident.pk],
    )
    first = _worker(tmp_path, "first")
    try:
        escalations_sweep.apply_async()
        with _admin() as watch:
            blocked = wait_for(
                lambda: (
                    watch.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    ).fetchone()[0]
                    > 0
                ),
                60,
            )
        assert blocked, (tmp_path / "first.log").read_text()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        # Also when the test fails above: an open blocker would hang the test database's
        # teardown on its lock.
        blocker.rollback()
        blocker.close()
    # The dead worker's session may linger until PostgreSQL notices; its rows stay locked
    # until then, and SKIP LOCKED would pass them by.
    with _admin() as watch:
        assert wait_for(
            lambda: (
                watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%%'"
                ).fetchone()[0]
                == 0
            ),
            30,
        )
    assert not Notification.objects.exists()  # the killed step left nothing behind
    assert http_sink.requests == []

    second = _worker(tmp_path, "second")
    try:
        escalations_sweep.apply_async()
        assert wait_for(lambda: Notification.objects.filter(status="sent").exists(), 60), (
            tmp_path / "second.log"
        ).read_text()
        escalations_sweep.apply_async()  # a further sweep must not send it again
        time.sleep(1.5)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)
    assert Notification.objects.count() == 1
    assert [r.headers["idempotency-key"] for r in http_sink.requests] == [key]
