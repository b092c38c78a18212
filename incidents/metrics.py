"""The IOC's own numbers, computed from the append-only timeline, never from edited counters.

Over the incidents resolved in the period `[since, until)`:
- an incident is *resolved inside the IOC* when its resolving team is inside the IOC and it was
  never handed off to a team outside the IOC (handing it back does not undo that);
- its alerts (attached to it, suppressed ones included, silenced ones not) count the same way;
- MTTA = first acknowledgement - opened; MTTR = last resolve - opened; both means;
- a reopened incident counts once (by its last resolve); an incident merged into another does not
  count; a share or mean with nothing to divide is None.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from .models import IncidentEvent, Status

ACKNOWLEDGING = {Status.ACKNOWLEDGED, Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATED}


@dataclass
class IncidentHistory:
    """What the numbers need from one incident's timeline."""

    opened_at: datetime | None = None
    first_ack_at: datetime | None = None
    last_resolve_at: datetime | None = None
    resolved_inside: bool = False
    handed_outside: bool = False
    merged_away: bool = False
    final_status: str = ""
    alerts: set = field(default_factory=set)


def history_from_events(events) -> IncidentHistory:
    """Fold one incident's timeline events (in time order) into its history."""
    history = IncidentHistory()
    split_out = set()
    for event in events:
        data = event.data or {}
        if event.kind == IncidentEvent.Kind.OPENED and history.opened_at is None:
            history.opened_at = event.at
        elif event.kind == IncidentEvent.Kind.STATUS_CHANGED:
            to = data.get("to")
            history.final_status = to or history.final_status
            if to in ACKNOWLEDGING and history.first_ack_at is None:
                history.first_ack_at = event.at
            if to == Status.RESOLVED:
                history.last_resolve_at = event.at
                history.resolved_inside = bool(data.get("resolving_team_in_ioc"))
        elif event.kind == IncidentEvent.Kind.HAND_OFF and data.get("to_team_in_ioc") is False:
            history.handed_outside = True
        elif event.kind == IncidentEvent.Kind.ALERT_ATTACHED and not data.get("silenced"):
            if data.get("alert") is not None:
                history.alerts.add(data["alert"])
        elif event.kind == IncidentEvent.Kind.MERGED:
            if data.get("into") is not None:
                history.merged_away = True
            history.alerts.update(data.get("alerts_moved_in", []))
        elif event.kind == IncidentEvent.Kind.SPLIT and data.get("alert") is not None:
            split_out.add(data["alert"])
    history.alerts -= split_out
    return history


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def metrics_from_histories(histories, *, since: datetime, until: datetime) -> dict:
    """The KPI document for the incidents whose last resolve falls in [since, until)."""
    counted = [
        h
        for h in histories
        if h.last_resolve_at is not None
        and since <= h.last_resolve_at < until
        and h.final_status in (Status.RESOLVED, Status.CLOSED)
        and not h.merged_away
        and h.opened_at is not None
    ]
    inside = [h for h in counted if h.resolved_inside and not h.handed_outside]
    alerts = sum(len(h.alerts) for h in counted)
    alerts_inside = sum(len(h.alerts) for h in inside)
    return {
        "incidents_resolved": len(counted),
        "incidents_resolved_inside_ioc": len(inside),
        "incidents_inside_ioc_share": _share(len(inside), len(counted)),
        "alerts_resolved": alerts,
        "alerts_resolved_inside_ioc": alerts_inside,
        "alerts_inside_ioc_share": _share(alerts_inside, alerts),
        "mtta_seconds": _mean(
            [(h.first_ack_at - h.opened_at).total_seconds() for h in counted if h.first_ack_at]
        ),
        "mttr_seconds": _mean([(h.last_resolve_at - h.opened_at).total_seconds() for h in counted]),
    }


def metrics_for_period(*, since: datetime, until: datetime, team_ids=None) -> dict:
    """Load the timelines of the incidents resolved in the period and compute the KPIs."""
    histories = histories_for_period(since=since, until=until, team_ids=team_ids)
    return metrics_from_histories(histories, since=since, until=until)


def histories_for_period(*, since: datetime, until: datetime, team_ids=None) -> list:
    """The histories of the incidents with a resolve in [since, until): enough for the KPIs of
    that period and of any period inside it."""
    resolved_in_period = IncidentEvent.objects.filter(
        kind=IncidentEvent.Kind.STATUS_CHANGED,
        data__to=Status.RESOLVED,
        at__gte=since,
        at__lt=until,
    )
    if team_ids is not None:
        resolved_in_period = resolved_in_period.filter(incident__team_id__in=team_ids)
    incident_ids = set(resolved_in_period.values_list("incident_id", flat=True))
    by_incident = defaultdict(list)
    events = IncidentEvent.objects.filter(incident_id__in=incident_ids).order_by("at", "id")
    for event in events.only("incident_id", "kind", "at", "data"):
        by_incident[event.incident_id].append(event)
    return [history_from_events(events) for events in by_incident.values()]
