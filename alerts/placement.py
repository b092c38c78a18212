"""Where a new firing alert goes: silenced, suppressed under an upstream incident, inhibited, or
routed to a team and grouped into an incident. One function, `alert_route_and_attach`, called
for every new firing alert and when a silence ends on an alert that still fires.

Order, and why:
1. silences and maintenance windows: stored and visible, no incident, nobody paged;
2. routing: the owner team, escalation policy, severity override and group settings;
3. dependency suppression: an open incident for an upstream component (a switch above a host)
   takes the alert as suppressed ("suppressed because <upstream> is down"), paging nobody;
4. inhibit rules: a matching firing source suppresses it (stored and visible, no incident,
   nobody paged);
5. grouping into the open incident of its group (route group-by fields, window, group wait);
   a newly opened incident then pulls in the downstream incidents opened before it (host alerts
   often arrive before their switch's own alert) by merging them into itself.
"""

import logging
from datetime import datetime

from incidents.merging import incident_merge
from incidents.models import OPEN_STATUSES, Incident, IncidentEvent
from incidents.services import (
    SEVERITY_RANK,
    group_window_over,
    incident_open_or_join,
    incident_raise_severity,
    severity_for_alert,
)
from teams.models import Team

from .batch import Batch, batch_scope
from .catalog import catalog_has_dependents, catalog_upstream, service_owner_team_id
from .matchers import alert_fields, field_value
from .models import Alert
from .routing import RouteDecision, route_alert
from .sources.base import stable_hash
from .suppression import inhibit_context, inhibition_for, silencing_for

log = logging.getLogger(__name__)


def alert_components(alert: Alert) -> set[str]:
    """What the alert is about, as the catalog names things: its service and its host."""
    return {name for name in (alert.service, alert.source) if name}


def group_key_for(*, team_id: int, values: list[str]) -> str:
    return stable_hash("group", team_id, *values)


def _group_values(decision: RouteDecision, fields: dict) -> list[str]:
    values = [field_value(fields, name) for name in decision.group_by]
    # An alert without a name groups by its summary, as before routes existed.
    if values == [fields.get("service") or "", ""] and decision.group_by == ("service", "name"):
        values[1] = str(fields.get("summary") or "")
    return values


def _owner_team(batch: Batch, decision: RouteDecision, integration, service: str) -> Team:
    team_id = None
    if decision.use_service_owner and service:
        team_id = service_owner_team_id(name=service)
    team_id = team_id or decision.team_id or integration.team_id
    if team_id == integration.team_id:
        return integration.team
    return batch.team(team_id)


def _routed(batch: Batch, integration, fields: dict) -> tuple[RouteDecision, Team, str]:
    """The route decision, owner team and group key for an alert's fields; decided once per
    batch for the same integration and fields (placement_prefetch decides them first)."""
    hint = batch.routing_hints.get(fields["integration"], {}).get(_fields_key(fields))
    if hint is not None:
        return hint
    decision = route_alert(integration=integration, fields=fields)
    team = _owner_team(batch, decision, integration, fields.get("service", ""))
    group_key = group_key_for(team_id=team.pk, values=_group_values(decision, fields))
    routed = (decision, team, group_key)
    batch.routing_hints.setdefault(fields["integration"], {})[_fields_key(fields)] = routed
    return routed


def _fields_key(fields: dict) -> tuple:
    labels = fields.get("labels") or {}
    return (
        *(fields.get(name) for name in sorted(fields) if name != "labels"),
        *sorted(labels.items()),
    )


def placement_prefetch(batch: Batch, items) -> None:
    """Lock, in one query and in id order, the open incidents of the groups that the batch's
    new alerts (`items`: (integration, ParsedAlert) pairs) are routed to, so that grouping
    asks the database once per batch rather than once per group."""
    keys = set()
    for integration, parsed in items:
        _, _, group_key = _routed(batch, integration, alert_fields(parsed, integration=integration))
        keys.add(group_key)
    keys -= batch.group_incidents.keys()
    if not keys:
        return
    for incident in (
        Incident.objects.select_for_update()
        .filter(group_key__in=sorted(keys), status__in=OPEN_STATUSES)
        .order_by("id")
    ):
        batch.group_incidents[incident.group_key] = incident


def _mark(batch: Batch, alert: Alert, kind: str, reason: str) -> None:
    alert.suppression = kind
    alert.suppression_reason = reason[:500]
    batch.alert_changed(alert, "suppression", "suppression_reason", "route")


def placement_join(
    *, alert: Alert, incident: Incident, at: datetime, suppressed: bool = False
) -> None:
    with batch_scope() as batch:
        alert.incident = incident
        batch.alert_changed(alert, "incident")
        message = f"Alert attached: {alert.summary}" + (
            f" on {alert.source}" if alert.source else ""
        )
        if suppressed:
            message += f" (suppressed: {alert.suppression_reason})"
        batch.timeline(
            incident_id=incident.pk,
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
        batch.recount(incident.pk)
        batch.incident_changed(incident_id=incident.pk, team_id=incident.team_id)


def _upstream_incident(batch: Batch, alert: Alert) -> tuple[Incident, str] | None:
    """An open incident with a firing alert on a component this alert's components depend on."""
    upstream = set()
    for names in catalog_upstream(names=alert_components(alert)).values():
        upstream |= names
    if not upstream:
        return None
    # In a storm every host behind the switch asks the same question: answered once per batch
    # (the batch forgets the answers when an alert resolves or incidents merge).
    key = frozenset(upstream)
    if key in batch.upstream_incidents:
        return batch.upstream_incidents[key]
    batch.flush()  # the alerts this batch attached so far count
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
    # Re-checked under the lock: the query above did not lock, and a person may have resolved
    # the upstream incident since; then this alert is placed on its own.
    incident = (
        Incident.objects.select_for_update()
        .filter(pk=first.incident_id, status__in=OPEN_STATUSES)
        .first()
    )
    if incident is None:
        return None
    # Only a found incident is remembered: one not found yet may open later in this batch.
    batch.upstream_incidents[key] = (incident, down)
    return incident, down


def _inhibited(batch: Batch, alert: Alert, fields: dict, at: datetime) -> str | None:
    if batch.inhibit is None:  # read once per batch, then kept current below
        batch.inhibit = inhibit_context(at)
    context = batch.inhibit
    if not context.rules:
        return None
    key = (alert.integration_id, alert.fingerprint)
    reason = inhibition_for(fields=fields, firing_sources=context, key=key)
    # This alert now fires too: it may inhibit the ones after it in the batch.
    context.add(fields=fields, key=key)
    return reason


def _pull_in_downstream(batch: Batch, *, incident: Incident, alert: Alert, at: datetime) -> int:
    """Merge into `incident` the open incidents whose alerts all sit below this alert's
    components: they were opened by the downstream noise before the cause showed up."""
    components = alert_components(alert)
    if not components or not catalog_has_dependents(names=components):
        return 0
    batch.flush()
    # Ordered by incident, so that the cap cuts at most the last incident's list short.
    candidates = list(
        Alert.objects.filter(status=Alert.Status.FIRING, incident__status__in=OPEN_STATUSES)
        .exclude(incident=incident)
        .order_by("incident_id", "pk")
        .values_list("pk", "incident_id", "source", "service")[:10_000]
    )
    if not candidates:
        return 0
    names = {name for _, _, source, service in candidates for name in (source, service) if name}
    upstream = catalog_upstream(names=names)
    firing_below: dict[int, list[int]] = {}
    elsewhere: set[int] = set()  # incidents with a firing alert that does not sit below
    for pk, incident_id, source, service in candidates:
        if (upstream.get(source, set()) | upstream.get(service, set())) & components:
            firing_below.setdefault(incident_id, []).append(pk)
        else:
            elsewhere.add(incident_id)
    merged = 0
    for incident_id in sorted(firing_below.keys() - elsewhere):
        Alert.objects.filter(pk__in=firing_below[incident_id]).update(
            suppression="suppressed",
            suppression_reason=f"suppressed because {alert.source or alert.service} is down",
        )
        incident_merge(incident_id=incident_id, into_id=incident.pk)
        batch.alerts_moved(from_incident_id=incident_id, to_incident_id=incident.pk)
        merged += 1
    return merged


def alert_route_and_attach(*, alert: Alert, at: datetime) -> Incident | None:
    """Place a new firing alert (see the module docstring). Returns its incident, if any."""
    if alert.flapping:
        return None  # a flapping alert is placed when it stops flapping (flapping_clear_quiet)
    with batch_scope() as batch:
        return _place(batch, alert=alert, at=at)


def _place(batch: Batch, *, alert: Alert, at: datetime) -> Incident | None:
    integration = alert.integration
    fields = alert_fields(alert, integration=integration)

    reason = silencing_for(fields=fields, at=at)
    if reason:
        _mark(batch, alert, "silenced", reason)
        return None

    decision, team, group_key = _routed(batch, integration, fields)
    alert.route_id = decision.route_id

    above = _upstream_incident(batch, alert)
    if above is not None:
        incident, down = above
        _mark(batch, alert, "suppressed", f"suppressed because {down} is down")
        placement_join(alert=alert, incident=incident, at=at, suppressed=True)
        return incident

    inhibited = _inhibited(batch, alert, fields, at)
    if inhibited is not None:
        _mark(batch, alert, "suppressed", inhibited)
        return None

    severity = severity_for_alert(alert.severity)
    if decision.severity_override and (
        SEVERITY_RANK[decision.severity_override] < SEVERITY_RANK[severity]
    ):
        severity = decision.severity_override
    if alert.route_id:
        batch.alert_changed(alert, "route")
    incident = batch.group_incidents.get(group_key)
    opened = False
    if incident is None or group_window_over(incident, at, decision.group_window_minutes):
        # The group's open incident, locked for the rest of the batch; later alerts of the
        # group find it above without asking the database again.
        incident, opened = incident_open_or_join(
            team=team,
            group_key=group_key,
            title=alert.summary,
            severity=severity,
            service=alert.service,
            alert_name=alert.name,
            at=at,
            window_minutes=decision.group_window_minutes,
            escalation_policy_id=decision.escalation_policy_id,
            escalation_delay_seconds=decision.group_wait_seconds,
        )
        batch.group_incidents[group_key] = incident
    if not opened and SEVERITY_RANK[severity] < SEVERITY_RANK[incident.severity]:
        batch.flush()  # the timeline keeps its order
        incident_raise_severity(
            incident=incident,
            severity=severity,
            reason=f"joined by {alert.severity} alert '{alert.name or alert.summary}'",
        )
        batch.incident_severity_raised(incident)
    placement_join(alert=alert, incident=incident, at=at)
    if opened:
        _pull_in_downstream(batch, incident=incident, alert=alert, at=at)
    return incident
