"""Optionally an incident resolves by itself when all its alerts resolve and stay resolved."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone

from alerts.models import Alert
from incidents.models import Incident
from incidents.services import incidents_auto_resolve_due
from tests.base import post_alert, process


def two_alerts_then_resolve(client, floor, *, resolve_both: bool) -> Incident:
    for host in ("db-1", "db-2"):
        post_alert(client, floor.token, {"summary": "Disk", "name": "Disk", "source": host})
    process()
    hosts = ("db-1", "db-2") if resolve_both else ("db-1",)
    for host in hosts:
        post_alert(
            client,
            floor.token,
            {"summary": "Disk", "name": "Disk", "source": host, "status": "resolved"},
        )
    process()
    return Incident.objects.get()


def test_it_is_off_by_default(client, floor, settings):
    settings.IOC_AUTO_RESOLVE_MINUTES = 0
    incident = two_alerts_then_resolve(client, floor, resolve_both=True)
    assert incidents_auto_resolve_due(now=timezone.now() + timedelta(days=1)) == 0
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_it_resolves_once_every_alert_stayed_resolved_long_enough(client, floor, settings):
    settings.IOC_AUTO_RESOLVE_MINUTES = 10
    incident = two_alerts_then_resolve(client, floor, resolve_both=True)
    assert incidents_auto_resolve_due(now=timezone.now() + timedelta(minutes=9)) == 0
    assert incidents_auto_resolve_due(now=timezone.now() + timedelta(minutes=11)) == 1
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_by is None
    assert incident.resolving_team == floor.first_line
    assert incident.resolution_code == "self_healed"
    event = incident.events.filter(kind="status_changed").last()
    assert event.via == "system"
    assert event.data["resolving_team"] == "first-line"


def test_it_waits_while_an_alert_still_fires(client, floor, settings):
    settings.IOC_AUTO_RESOLVE_MINUTES = 10
    incident = two_alerts_then_resolve(client, floor, resolve_both=False)
    assert Alert.objects.filter(status="firing").count() == 1
    assert incidents_auto_resolve_due(now=timezone.now() + timedelta(hours=1)) == 0
    incident.refresh_from_db()
    assert incident.is_open


@pytest.mark.django_db(transaction=True)
def test_it_asks_again_under_the_lock_a_batch_held(settings):
    # A batch holds the group's incident while it attaches a new firing alert; the sweep read
    # the incident as due before that committed, and must not resolve it afterwards.
    from tests.base import Floor

    floor = Floor()
    client = Client()
    settings.IOC_AUTO_RESOLVE_MINUTES = 10
    incident = two_alerts_then_resolve(client, floor, resolve_both=True)
    holding, done = threading.Event(), threading.Event()

    def batch_attaching_a_firing_alert():
        try:
            with transaction.atomic():
                Incident.objects.select_for_update().get(pk=incident.pk)
                Alert.objects.create(
                    integration=floor.integration,
                    fingerprint="db-3",
                    severity="warning",
                    summary="Disk",
                    source="db-3",
                    incident=incident,
                    first_seen=timezone.now(),
                    last_seen=timezone.now(),
                )
                holding.set()
                time.sleep(0.5)  # the sweep reads its list meanwhile, then waits for the lock
        finally:
            done.set()
            close_old_connections()

    thread = threading.Thread(target=batch_attaching_a_firing_alert)
    thread.start()
    assert holding.wait(timeout=30)
    assert incidents_auto_resolve_due(now=timezone.now() + timedelta(minutes=11)) == 0
    thread.join(timeout=30)
    incident.refresh_from_db()
    assert incident.is_open
