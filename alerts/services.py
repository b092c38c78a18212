"""Writes to integrations."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from teams.models import Team

from .models import Integration
from .tokens import token_hash, token_new


def integration_ingest_url(*, token: str, base_url: str | None = None) -> str:
    base = (base_url or settings.IOC_BASE_URL).rstrip("/")
    return base + reverse("integration-webhook", kwargs={"token": token})


def integration_issue_token(*, integration: Integration, token: str | None = None) -> str:
    """Give the (unsaved) integration a new token and return it: the only time it is seen."""
    token = token or token_new()
    integration.token_hash = token_hash(token)
    integration.token_hint = token[:6]
    return token


def integration_create(
    *, name: str, kind: str, team: Team, default_severity: str = "warning"
) -> tuple[Integration, str]:
    """Create an integration; returns it with its token, which is shown this once only."""
    integration = Integration(name=name, kind=kind, team=team, default_severity=default_severity)
    token = integration_issue_token(integration=integration)
    integration.save()
    return integration, token


def integration_rotate_token(
    *, integration: Integration, token: str | None = None, grace: timedelta | None = None
) -> str:
    """Issue a new token. The old one keeps working for the grace period (default
    IOC_TOKEN_ROTATION_GRACE_HOURS), so senders can be moved over without losing alerts."""
    if grace is None:
        grace = timedelta(hours=settings.IOC_TOKEN_ROTATION_GRACE_HOURS)
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration.pk)
        integration.previous_token_hash = integration.token_hash if grace else ""
        integration.previous_token_valid_until = timezone.now() + grace if grace else None
        token = integration_issue_token(integration=integration, token=token)
        integration.save(
            update_fields=[
                "token_hash",
                "token_hint",
                "previous_token_hash",
                "previous_token_valid_until",
            ]
        )
    return token


def alert_split(*, alert_id: int, actor=None, via: str = "system"):
    """Take one alert out of its incident into an incident of its own; both timelines say so."""
    from incidents.broadcast import incident_changed_on_commit
    from incidents.merging import incidents_recount_alerts
    from incidents.models import Incident, IncidentEvent
    from incidents.services import incident_open, severity_for_alert, timeline_append
    from incidents.transitions import WorkflowRefused

    from .batch import processing_turn
    from .models import Alert

    with transaction.atomic():
        processing_turn()  # as incidents.merging.incident_merge: moves an alert between incidents
        alert = Alert.objects.select_for_update().get(pk=alert_id)
        if alert.incident_id is None:
            raise WorkflowRefused("this alert is not part of an incident")
        old = Incident.objects.select_for_update().select_related("team").get(pk=alert.incident_id)
        if not old.is_open:
            raise WorkflowRefused(f"#{old.number} is {old.status}: split from open incidents")
        if old.alerts.count() < 2:
            raise WorkflowRefused("the incident has only this alert: nothing to split from")
        # No group key: the split-out incident is a person's decision, alerts do not join it.
        new = incident_open(
            team=old.team,
            title=alert.summary,
            service=alert.service,
            severity=severity_for_alert(alert.severity),
            actor=actor,
            via=via,
        )
        alert.incident = new
        alert.save(update_fields=["incident"])
        incidents_recount_alerts([old.pk, new.pk])
        timeline_append(
            incident=old,
            kind=IncidentEvent.Kind.SPLIT,
            actor=actor,
            via=via,
            message=f"Alert split out into #{new.number}: {alert.summary}",
            data={"alert": alert.pk, "to": new.pk},
        )
        timeline_append(
            incident=new,
            kind=IncidentEvent.Kind.ALERT_ATTACHED,
            actor=actor,
            via=via,
            message=f"Alert split out of #{old.number}: {alert.summary}",
            data={"alert": alert.pk, "from": old.pk, "fingerprint": alert.fingerprint},
        )
        # The old incident lost an alert: its count changes on the board too.
        incident_changed_on_commit(incident_id=old.pk, team_id=old.team_id)
    return new
