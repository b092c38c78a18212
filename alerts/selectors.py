"""Reads of alerts and deliveries."""

from dataclasses import dataclass

from django.db.models import Min
from django.utils import timezone

from teams.selectors import team_ids_visible_to

from .models import Alert, InboundEvent, Integration


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_seconds: float


def deliveries_backlog() -> Backlog:
    pending = InboundEvent.objects.filter(status=InboundEvent.Status.PENDING)
    summary = pending.aggregate(oldest=Min("received_at"))
    oldest = summary["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return Backlog(pending=pending.count(), oldest_seconds=round(max(age, 0.0), 1))


def integration_list_for_user(*, user):
    integrations = Integration.objects.select_related("team")
    team_ids = team_ids_visible_to(user=user)
    return integrations if team_ids is None else integrations.filter(team_id__in=team_ids)


def alert_list_for_user(*, user, integration_id: str = "", status: str = ""):
    alerts = Alert.objects.select_related("integration")
    team_ids = team_ids_visible_to(user=user)
    if team_ids is not None:
        alerts = alerts.filter(integration__team_id__in=team_ids)
    if integration_id:
        alerts = alerts.filter(integration_id=integration_id)
    if status:
        alerts = alerts.filter(status=status)
    return alerts
