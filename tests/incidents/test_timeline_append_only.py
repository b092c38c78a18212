"""The timeline is append-only in the database too: the KPIs are computed from it."""

import pytest
from django.db import DatabaseError, transaction
from django.db.models import ProtectedError

from incidents.models import Incident, IncidentEvent
from incidents.services import incident_open


@pytest.fixture
def incident(floor) -> Incident:
    return incident_open(team=floor.first_line, title="Disk full", severity="SEV3")


def test_updating_a_timeline_entry_is_refused_by_the_database(incident):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        IncidentEvent.objects.filter(incident=incident).update(message="rewritten")
    assert incident.events.get().message.startswith("Opened as SEV3")


def test_deleting_a_timeline_entry_is_refused_by_the_database(incident):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        IncidentEvent.objects.filter(incident=incident).delete()
    assert incident.events.count() == 1


def test_an_incident_with_history_cannot_be_deleted(incident):
    with pytest.raises(ProtectedError), transaction.atomic():
        incident.delete()
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_appending_still_works(incident, floor):
    from incidents.updates import incident_add_note

    incident_add_note(incident_id=incident.pk, body="still writable", actor=floor.alice, via="api")
    assert incident.events.count() == 2
