"""Reads of incidents, always through what the user may see."""

from django.db.models import QuerySet

from teams.selectors import team_ids_actionable_by, team_ids_visible_to

from .models import OPEN_STATUSES, Incident


def incident_list_for_user(*, user, status: str = "", team_slug: str = "") -> QuerySet[Incident]:
    incidents = Incident.objects.select_related("team", "acknowledged_by", "resolved_by")
    team_ids = team_ids_visible_to(user=user)
    if team_ids is not None:
        incidents = incidents.filter(team_id__in=team_ids)
    if status == "open":
        incidents = incidents.filter(status__in=OPEN_STATUSES)
    elif status:
        incidents = incidents.filter(status=status)
    if team_slug:
        incidents = incidents.filter(team__slug=team_slug)
    return incidents


def incident_get_for_user(*, user, pk: int) -> Incident:
    """The incident, or Incident.DoesNotExist when it is unknown or not visible to the user."""
    return incident_list_for_user(user=user).get(pk=pk)


def incident_user_may_act(*, user, incident: Incident) -> bool:
    team_ids = team_ids_actionable_by(user=user)
    return team_ids is None or incident.team_id in team_ids


def incident_timeline(*, incident: Incident):
    return incident.events.select_related("actor").order_by("at", "id")


def incident_alerts(*, incident: Incident):
    return incident.alerts.order_by("-last_seen")


def incident_detail_context(*, incident: Incident, user) -> dict:
    """What the incident page and its live fragment render."""
    return {
        "incident": incident,
        "alerts": incident_alerts(incident=incident)[:200],
        "timeline": incident_timeline(incident=incident),
        "may_act": incident_user_may_act(user=user, incident=incident),
    }
