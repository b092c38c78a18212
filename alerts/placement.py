"""Where a new firing alert goes: silenced, suppressed under an upstream incident, inhibited, or
routed to a team and grouped into an incident. One function, `alert_route_and_attach`, called
for every new firing alert and when a silence ends on an alert that still fires.

Order, and why:
1. silences and maintenance windows: stored and visible, no incident, nobody paged;
2. routing: the owner team, escalation policy, severity override and group settings;
3. dependency suppression: an open incident for an upstream component (a switch above a host)
   takes the alert as suppressed ("suppressed because <upstream> is down"), paging nobody;
4. inhibit rules: a matching firing source suppresses it, in that source's incident if any;
5. grouping into the open incident of its group (route group-by fields, window, group wait);
   a newly opened incident then pulls in the downstream incidents opened before it (host alerts
   often arrive before their switch's own alert) by merging them into itself.
"""

import contextvars
import logging
from contextlib import contextmanager
from datetime import datetime

from incidents.merging import incident_merge
from incidents.models import OPEN_STATUSES, Incident, IncidentEvent
from incidents.services import (
    SEVERITY_RANK,
    incident_open_or_join,
    incident_raise_severity,
    severity_for_alert,
    timeline_append,
)
from teams.models import Team

from .catalog import catalog_has_dependents, catalog_upstream, service_owner_team_id
from .matchers import alert_fields
from .models import Alert
from .routing import RouteDecision, route_alert
from .sources.base import stable_hash
from .suppression import inhibit_context, inhibition_for, silencing_for

log = logging.getLogger(__name__)

# The inhibit context of the batch being processed: loaded once per batch (it reads the firing
# alerts that can inhibit), then kept current as alerts start firing within the batch.
_batch_inhibit: contextvars.ContextVar = contextvars.ContextVar("batch_inhibit", default=None)


@contextmanager
def placement_batch():
    """Wrap the processing of one batch so that per-batch lookups happen once."""
    token = _batch_inhibit.set({})
    try:
        yield
    finally:
        _batch_inhibit.reset(token)


def alert_components(alert: Alert) -> set[str]:
    """What the alert is about, as the catalog names things: its service and its host."""
    return {name for name in (alert.service, alert.source) if name}


def group_key_for(*, team_id: int, values: list[str]) -> str:
    return stable_hash("group", team_id, *values)


def _group_values(decision: RouteDecision, fields: dict) -> list[str]:
    labels = fields.get("labels") or {}
    values = []
    for name in decision.group_by:
        if name.startswith("labels."):
            values.append(str(labels.get(name[len("labels.") :], "")))
        else:
            values.append(str(fields.get(name) or ""))
    # An alert without a name groups by its summary, as before routes existed.
    if values == [fields.get("service") or "", ""] and decision.group_by == ("service", "name"):
        values[1] = str(fields.get("summary") or "")
    return values


def _owner_team(decision: RouteDecision, alert: Alert) -> Team:
    team_id = None
    if decision.use_service_owner and alert.service:
        team_id = service_owner_team_id(name=alert.service)
    team_id = team_id or decision.team_id or alert.integration.team_id
    if team_id == alert.integration.team_id:
        return alert.integration.team
    return Team.objects.get(pk=team_id)


def _mark(alert: Alert, kind: str, reason: str) -> None:
    alert.suppression = kind
    alert.suppression_reason = reason[:500]
    alert.save(update_fields=["suppression", "suppression_reason", "route"])


def _join(*, alert: Alert, incident: Incident, at: datetime, suppressed: bool = False) -> None:
    from .ingest import incident_recount

    alert.incident = incident
    alert.save(update_fields=["incident"])
    message = f"Alert attached: {alert.summary}" + (f" on {alert.source}" if alert.source else "")
    if suppressed:
        message += f" (suppressed: {alert.suppression_reason})"
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.ALERT_ATTACHED,
        message=message,
        at=at,
        data={
            "alert": alert.pk,
            "fingerprint": alert.fingerprint,
            "severity": alert.severity,
            "suppressed": suppressed,
        },
    )
    incident_recount(incident)


def _upstream_incident(alert: Alert) -> tuple[Incident, str] | None:
    """An open incident with a firing alert on a component this alert's components depend on."""
    upstream = set()
    for names in catalog_upstream(names=alert_components(alert)).values():
        upstream |= names
    if not upstream:
        return None
    above = (
        Alert.objects.filter(status=Alert.Status.FIRING, incident__status__in=OPEN_STATUSES)
        .exclude(pk=alert.pk)
        .exclude(suppression="silenced")
        .filter(source__in=upstream)
        .union(
            Alert.objects.filter(status=Alert.Status.FIRING, incident__status__in=OPEN_STATUSES)
            .exclude(pk=alert.pk)
            .exclude(suppression="silenced")
            .filter(service__in=upstream)
        )
        .order_by("first_seen")
    )
    first = next(iter(above[:1]), None)
    if first is None:
        return None
    down = first.source if first.source in upstream else first.service
    incident = Incident.objects.select_for_update().get(pk=first.incident_id)
    return incident, down


def _inhibit_context(at: datetime):
    cache = _batch_inhibit.get()
    if cache is None:  # outside a batch (a silence released, a test): load it now
        return inhibit_context(at)
    if "context" not in cache:
        cache["context"] = inhibit_context(at)
    return cache["context"]


def _inhibited(alert: Alert, fields: dict, at: datetime) -> str | None:
    context = _inhibit_context(at)
    if not context.rules:
        return None
    key = (alert.integration_id, alert.fingerprint)
    reason = inhibition_for(fields=fields, firing_sources=context, key=key)
    # This alert now fires too: it may inhibit the ones after it in the batch.
    context.add(fields=fields, key=key)
    return reason


def _pull_in_downstream(*, incident: Incident, alert: Alert, at: datetime) -> int:
    """Merge into `incident` the open incidents whose alerts all sit below this alert's
    components: they were opened by the downstream noise before the cause showed up."""
    components = alert_components(alert)
    if not components or not catalog_has_dependents(names=components):
        return 0
    candidates = list(
        Alert.objects.filter(status=Alert.Status.FIRING, incident__status__in=OPEN_STATUSES)
        .exclude(incident=incident)
        .values_list("pk", "incident_id", "source", "service")[:10_000]
    )
    if not candidates:
        return 0
    names = {name for _, _, source, service in candidates for name in (source, service) if name}
    upstream = catalog_upstream(names=names)
    below = {
        incident_id
        for _, incident_id, source, service in candidates
        if (upstream.get(source, set()) | upstream.get(service, set())) & components
    }
    merged = 0
    for incident_id in sorted(below):
        down = Alert.objects.filter(incident_id=incident_id)
        down.update(
            suppression="suppressed",
            suppression_reason=f"suppressed because {alert.source or alert.service} is down",
        )
        incident_merge(incident_id=incident_id, into_id=incident.pk)
        merged += 1
    return merged


def alert_route_and_attach(*, alert: Alert, at: datetime) -> Incident | None:
    """Place a new firing alert (see the module docstring). Returns its incident, if any."""
    if alert.flapping:
        return None  # a flapping alert is placed when it stops flapping (flapping_clear_quiet)
    integration = alert.integration
    fields = alert_fields(alert, integration=integration)

    reason = silencing_for(fields=fields, at=at)
    if reason:
        _mark(alert, "silenced", reason)
        return None

    decision = route_alert(integration=integration, fields=fields)
    alert.route_id = decision.route_id

    above = _upstream_incident(alert)
    if above is not None:
        incident, down = above
        _mark(alert, "suppressed", f"suppressed because {down} is down")
        _join(alert=alert, incident=incident, at=at, suppressed=True)
        return incident

    inhibited = _inhibited(alert, fields, at)
    if inhibited is not None:
        _mark(alert, "suppressed", inhibited)
        return None

    team = _owner_team(decision, alert)
    severity = severity_for_alert(alert.severity)
    if decision.severity_override and (
        SEVERITY_RANK[decision.severity_override] < SEVERITY_RANK[severity]
    ):
        severity = decision.severity_override
    if alert.route_id:
        alert.save(update_fields=["route"])
    incident, opened = incident_open_or_join(
        team=team,
        group_key=group_key_for(team_id=team.pk, values=_group_values(decision, fields)),
        title=alert.summary,
        severity=severity,
        service=alert.service,
        alert_name=alert.name,
        at=at,
        window_minutes=decision.group_window_minutes,
        escalation_policy_id=decision.escalation_policy_id,
        escalation_delay_seconds=decision.group_wait_seconds,
    )
    if not opened:
        incident_raise_severity(
            incident=incident,
            severity=severity,
            reason=f"joined by {alert.severity} alert '{alert.name or alert.summary}'",
        )
    _join(alert=alert, incident=incident, at=at)
    if opened:
        _pull_in_downstream(incident=incident, alert=alert, at=at)
    return incident
