"""The board's inside-IOC share, today and over 30 days, from one load of the timelines."""

from datetime import timedelta

from django.utils import timezone

from incidents import services
from incidents.metrics import metrics_for_period
from incidents.models import IncidentEvent
from incidents.selectors import board_kpis
from tests.base import post_alert, process


def resolved_incident(client, floor, name: str, *, team):
    post_alert(client, floor.token, {"summary": name, "name": name, "source": "db-1"})
    process()
    incident = services.Incident.objects.get(title=name)
    services.incident_resolve(
        incident_id=incident.pk, actor=floor.alice, via="api", resolving_team=team, code="fixed"
    )
    return incident


def test_today_and_the_month_match_their_own_periods(client, floor):
    resolved_incident(client, floor, "today inside", team=floor.first_line)
    older = resolved_incident(client, floor, "last week outside", team=floor.vendor)
    # Move the older incident's whole timeline a week back. The timeline refuses UPDATEs (its
    # trigger): the test switches the trigger off for this rewrite only.
    week = timedelta(days=7)
    events = list(IncidentEvent.objects.filter(incident=older))
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks before ALTER
        cursor.execute("ALTER TABLE incidents_incidentevent DISABLE TRIGGER USER")
        for event in events:
            cursor.execute(
                "UPDATE incidents_incidentevent SET at = %s WHERE id = %s",
                [event.at - week, event.pk],
            )
        cursor.execute("ALTER TABLE incidents_incidentevent ENABLE TRIGGER USER")
    kpis = board_kpis(user=floor.admin)
    now = timezone.now()
    month = metrics_for_period(since=now - timedelta(days=30), until=now + timedelta(seconds=1))
    assert (kpis["month"], kpis["month_alerts"]) == (
        month["alerts_inside_ioc_share"],
        month["alerts_resolved"],
    )
    assert kpis["month_alerts"] == 2
    assert (kpis["today"], kpis["today_alerts"]) == (1.0, 1)
