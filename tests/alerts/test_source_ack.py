"""A source-side acknowledgement is decided under the incident's lock: it acknowledges a
triggered incident, leaves one a person already moved on alone (without breaking the batch),
and stops an escalation that an ack timeout re-triggered. A repeat's severity rise never
touches an incident a person has resolved."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from alerts.services import integration_create
from incidents import escalation_engine
from incidents import services as workflow
from incidents.escalation_models import Escalation, EscalationPolicy, EscalationStep
from incidents.models import Incident
from teams.models import ContactMethod
from tests.base import process


@pytest.fixture
def pagerduty(floor):
    _, token = integration_create(name="PD", kind="pagerduty", team=floor.dba)
    return token


def enqueue(token: str, action: str, severity: str = "warning") -> None:
    body = {"routing_key": token, "event_action": action, "dedup_key": "db-7/disk"}
    if action == "trigger":
        body["payload"] = {"summary": "Disk full on db-7", "source": "db-7", "severity": severity}
    response = Client().post("/v2/enqueue", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 202


def test_it_leaves_an_incident_a_person_moved_on_as_it_is(floor, pagerduty):
    enqueue(pagerduty, "trigger")
    process()
    incident = Incident.objects.get()
    workflow.incident_transition(
        incident_id=incident.pk, to_status="investigating", actor=floor.dave, via="api"
    )
    enqueue(pagerduty, "acknowledge")
    process()  # the autouse fixture fails the test if the batch fell back
    incident.refresh_from_db()
    assert incident.status == "investigating"


def test_it_stops_an_escalation_its_ack_timeout_retriggered(floor, pagerduty):
    ContactMethod.objects.create(user=floor.dave, kind="email", address="dave@example.org")
    policy = EscalationPolicy.objects.create(
        name="DBA", team=floor.dba, is_default=True, ack_timeout_minutes=10
    )
    EscalationStep.objects.create(policy=policy, position=1, kind="notify_team")
    enqueue(pagerduty, "trigger")
    process()
    incident = Incident.objects.get()
    workflow.incident_acknowledge(incident_id=incident.pk, actor=floor.dave, via="api")
    later = incident.opened_at + timedelta(minutes=11)
    assert escalation_engine.escalations_ack_timeouts_due(now=later) == 1
    assert Escalation.objects.get(incident=incident).state == "active"
    enqueue(pagerduty, "acknowledge")
    process()
    assert Escalation.objects.get(incident=incident).state == "acknowledged"


def test_a_repeat_does_not_raise_an_incident_a_person_resolved(floor, pagerduty):
    enqueue(pagerduty, "trigger", severity="warning")
    process()
    incident = Incident.objects.get()
    workflow.incident_resolve(
        incident_id=incident.pk, actor=floor.dave, via="api", code="fixed", summary="done"
    )
    enqueue(pagerduty, "trigger", severity="critical")  # the alert still fires, now critical
    process()
    incident.refresh_from_db()
    assert (incident.status, incident.severity) == ("resolved", "SEV4")
