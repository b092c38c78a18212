"""Optionally an incident resolves by itself when all its alerts resolve and stay resolved."""

from datetime import timedelta

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
