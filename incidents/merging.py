"""Merging incidents: a burst that landed in several incidents becomes one. The merged incident
is resolved as a duplicate of the one it went into, and both timelines say so; the KPIs leave
the merged one out (its `merged` event names where it went)."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from .broadcast import incident_changed_on_commit
from .models import Incident, IncidentEvent, ResolutionCode, Status, Via
from .services import Resolution, incident_raise_severity, incident_transition, timeline_append
from .transitions import WorkflowRefused


def incidents_recount_alerts(incident_ids: Iterable[int]) -> None:
    """alert_count is derived: counted from the attached alerts, never incremented. One
    statement for all the incidents a processing batch touched."""
    from alerts.models import Alert

    attached = (
        Alert.objects.filter(incident_id=OuterRef("pk"))
        .order_by()
        .values("incident_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Incident.objects.filter(pk__in=sorted(set(incident_ids))).update(
        alert_count=Coalesce(Subquery(attached, output_field=IntegerField()), Value(0))
    )


def incident_merge(
    *, incident_id: int, into_id: int, actor=None, via: str = Via.SYSTEM
) -> Incident:
    """Move every alert of `incident_id` into `into_id` and resolve the first as a duplicate."""
    if incident_id == into_id:
        raise WorkflowRefused("an incident cannot be merged into itself")
    from alerts.batch import processing_turn

    with transaction.atomic():
        # Processing locks alerts, then incidents; a merge moves alerts of locked incidents,
        # so it waits for processing's turn instead of locking in the opposite order.
        processing_turn()
        # Lock both in id order, so two merges of the same pair cannot deadlock.
        locked = {
            incident.pk: incident
            for incident in Incident.objects.select_for_update()
            .filter(pk__in=[incident_id, into_id])
            .order_by("pk")
        }
        source, target = locked.get(incident_id), locked.get(into_id)
        if source is None or target is None:
            raise Incident.DoesNotExist
        if not source.is_open:
            raise WorkflowRefused(f"#{source.number} is {source.status}: only open incidents merge")
        if target.status == Status.CLOSED:
            raise WorkflowRefused(f"#{target.number} is closed")
        if target.merged_into_id:
            raise WorkflowRefused(f"#{target.number} was itself merged away")
        moved = list(source.alerts.values_list("pk", flat=True))
        source.alerts.update(incident=target)
        incidents_recount_alerts([source.pk, target.pk])
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        who = actor.get_username() if actor is not None and actor.is_authenticated else "system"
        timeline_append(
            incident=source,
            kind=IncidentEvent.Kind.MERGED,
            actor=actor,
            via=via,
            message=f"Merged into #{target.number} by {who} ({len(moved)} alerts moved)",
            data={"into": target.pk, "alerts_moved_out": moved},
        )
        timeline_append(
            incident=target,
            kind=IncidentEvent.Kind.MERGED,
            actor=actor,
            via=via,
            message=f"#{source.number} merged in by {who} ({len(moved)} alerts)",
            data={"merged_from": source.pk, "alerts_moved_in": moved},
        )
        incident_raise_severity(
            incident=target,
            severity=source.severity,
            reason=f"#{source.number} merged in",
            actor=actor,
            via=via,
        )
        # The merged incident is done: resolved by the system as a duplicate.
        incident_transition(
            incident_id=source.pk,
            to_status=Status.RESOLVED,
            actor=None,
            via=Via.SYSTEM,
            reason=f"merged into #{target.number}",
            resolution=Resolution(
                team=source.team,
                code=ResolutionCode.DUPLICATE,
                summary=f"Merged into #{target.number}",
            ),
        )
        incident_changed_on_commit(incident_id=target.pk, team_id=target.team_id)
    target.refresh_from_db()
    return target
