"""A stalled escalation sweeper raises an alert of its own, and it resolves on recovery."""

from datetime import timedelta

from django.utils import timezone

from alerts.models import Alert
from alerts.selfmonitor import FINGERPRINT, self_monitor_check
from incidents.escalation_models import Escalation, EscalationPolicy, EscalationStep
from incidents.services import incident_open


def stall(floor):
    policy = EscalationPolicy.objects.create(name="p", team=floor.first_line, is_default=True)
    EscalationStep.objects.create(policy=policy, position=1, kind="notify_manager")
    incident = incident_open(team=floor.first_line, title="waiting", severity="SEV3")
    Escalation.objects.filter(incident=incident).update(
        next_at=timezone.now() - timedelta(minutes=5)
    )
    return incident


def test_it_stays_quiet_while_the_sweeper_keeps_up(floor):
    assert self_monitor_check(now=timezone.now()) == "ok"
    assert not Alert.objects.filter(fingerprint=FINGERPRINT).exists()


def test_a_stalled_sweeper_raises_an_alert_and_an_incident(floor):
    stall(floor)
    assert self_monitor_check(now=timezone.now()) == "stalled"
    alert = Alert.objects.get(fingerprint=FINGERPRINT)
    assert (alert.status, alert.severity, alert.name) == (
        "firing",
        "critical",
        "EscalationSweeperStalled",
    )
    assert alert.incident is not None
    assert alert.incident.team.in_ioc
    # Checking again only repeats the same alert.
    self_monitor_check(now=timezone.now())
    assert Alert.objects.filter(fingerprint=FINGERPRINT).count() == 1
    assert Alert.objects.get(fingerprint=FINGERPRINT).count == 2


def test_it_resolves_when_the_sweeper_catches_up(floor):
    incident = stall(floor)
    self_monitor_check(now=timezone.now())
    Escalation.objects.filter(incident=incident).update(state="stopped")
    assert self_monitor_check(now=timezone.now()) == "recovered"
    assert Alert.objects.get(fingerprint=FINGERPRINT).status == "resolved"
    assert self_monitor_check(now=timezone.now()) == "ok"
