"""Reads of incidents, always through what the user may see."""

from django.db.models import QuerySet
from django.http import Http404

from teams.selectors import team_ids_actionable_by, team_ids_visible_to

from .models import OPEN_STATUSES, Incident

# Every person and team an incident names: the list and the API show them all, and each one not
# joined here would be one more query per incident listed.
INCIDENT_RELATED = (
    "team",
    "resolving_team",
    "acknowledged_by",
    "resolved_by",
    "declared_by",
    "commander",
    "communications_lead",
    "scribe",
)


def incident_list_for_user(*, user, status: str = "", team_slug: str = "") -> QuerySet[Incident]:
    incidents = Incident.objects.select_related(*INCIDENT_RELATED)
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


def incident_get_for_user_or_404(*, user, pk: int) -> Incident:
    """For views and the API: an incident the user may not see is as unknown as a missing one."""
    try:
        return incident_get_for_user(user=user, pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404("no such incident") from exc


def incident_user_may_act(*, user, incident: Incident) -> bool:
    team_ids = team_ids_actionable_by(user=user)
    return team_ids is None or incident.team_id in team_ids


def incident_timeline(*, incident: Incident):
    return incident.events.select_related("actor").order_by("at", "id")


def incident_alerts(*, incident: Incident):
    return incident.alerts.order_by("-last_seen")


def incident_detail_context(*, incident: Incident, user) -> dict:
    """What the incident page and its live fragment render."""
    from django.contrib.auth import get_user_model

    from teams.models import Team

    from .models import ResolutionCode, Status
    from .ownership import ROLES
    from .transitions import is_allowed
    from .updates import SEVERITY_DEFINITIONS, status_update_overdue

    may_act = incident_user_may_act(user=user, incident=incident)
    # The page's status buttons: resolving and closing have their own forms, so only these.
    forward = [
        status
        for status in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATED)
        if is_allowed(incident.status, status)
    ]
    context = {
        "incident": incident,
        "alerts": incident_alerts(incident=incident)[:200],
        "timeline": incident_timeline(incident=incident),
        "may_act": may_act,
        "severity_definition": SEVERITY_DEFINITIONS.get(incident.severity, ""),
        "severity_definitions": SEVERITY_DEFINITIONS,
        "status_update_overdue": status_update_overdue(incident=incident),
        "forward_statuses": forward,
        "hand_offs": incident.hand_offs.select_related("from_team", "to_team", "by"),
        "responders": incident.responders.select_related("user", "team"),
        "roles": [(key, label, getattr(incident, key)) for key, label in ROLES.items()],
    }
    from .checklists import incident_records_context

    context.update(incident_records_context(incident=incident, user=user))
    from .escalation_policies import incident_escalation_context

    context.update(incident_escalation_context(incident=incident))
    if may_act:
        context.update(
            teams=Team.objects.order_by("-in_ioc", "name"),
            users=get_user_model().objects.filter(is_active=True).order_by("username")[:500],
            resolution_codes=ResolutionCode.choices,
        )
    return context


def board_kpis(*, user) -> dict:
    """The mission's figure for the board: the share of alerts resolved inside the IOC today
    (in the floor's time zone) and over the last 30 days, next to the target."""
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django.conf import settings
    from django.utils import timezone

    from teams.selectors import team_ids_visible_to

    from .metrics import histories_for_period, metrics_from_histories

    now = timezone.now()
    zone = ZoneInfo(settings.IOC_TIME_ZONE)
    midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    team_ids = team_ids_visible_to(user=user)
    end = now + timedelta(seconds=1)
    # Today lies inside the 30 days: their timelines are loaded once for both figures.
    month_start = now - timedelta(days=30)
    histories = histories_for_period(since=month_start, until=end, team_ids=team_ids)
    today = metrics_from_histories(histories, since=midnight, until=end)
    month = metrics_from_histories(histories, since=month_start, until=end)
    return {
        "today": today["alerts_inside_ioc_share"],
        "today_alerts": today["alerts_resolved"],
        "month": month["alerts_inside_ioc_share"],
        "month_alerts": month["alerts_resolved"],
        "target": settings.IOC_INSIDE_SHARE_TARGET,
    }


def escalation_sweeper_health(*, stalled_after_seconds: int = 60) -> dict:
    """For /healthz: is the escalation sweeper keeping up? Stalled when an escalation step or a
    page has been due for over a minute (the sweeper runs every few seconds)."""
    from django.db.models import Min
    from django.utils import timezone

    from .escalation_models import Escalation, Notification
    from .models import Counter

    now = timezone.now()
    oldest_step = Escalation.objects.filter(state=Escalation.State.ACTIVE).aggregate(
        oldest=Min("next_at")
    )["oldest"]
    oldest_page = Notification.objects.filter(status=Notification.Status.PENDING).aggregate(
        oldest=Min("due_at")
    )["oldest"]
    due = [moment for moment in (oldest_step, oldest_page) if moment is not None]
    overdue = max(((now - min(due)).total_seconds(), 0.0)) if due else 0.0
    last = Counter.objects.filter(name="escalation_sweep_at").values_list("value", flat=True)
    last_sweep_age = round(now.timestamp() - last[0], 1) if last else None
    stalled = overdue > stalled_after_seconds
    return {
        "escalations": "stalled" if stalled else "ok",
        "escalations_overdue_seconds": round(overdue, 1),
        "escalation_sweep_age_seconds": last_sweep_age,
    }
