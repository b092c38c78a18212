"""The escalation engine: it applies the pure policy logic (escalation.py) to incidents.

The engine keeps every due time in a row. `escalations_run_due` claims due escalations with
SELECT … FOR UPDATE SKIP LOCKED, re-checks the incident under its lock, and writes Notification
rows (unique key: incident, run, step, repeat, user, contact method, rule) in the same
transaction. `notifications_deliver_due` sends them: it holds the row lock while it sends and
records the outcome before committing, so a worker killed before the send leaves the row for the
next worker (sent once), and one killed after the send but before the commit makes it send again
with the same key (at most twice; receivers drop the repeat by the key).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .escalation import (
    StepSpec,
    condition_holds,
    next_move,
    notification_key,
    policy_snapshot,
    spec_from_snapshot,
)
from .escalation_models import Escalation, EscalationPolicy, EscalationStep, Notification
from .models import OPEN_STATUSES, Incident, IncidentEvent, Via
from .services import timeline_append

log = logging.getLogger(__name__)


# --- who: targets and how to reach them ---


@dataclass(frozen=True)
class Route:
    """One way to reach one person: a contact method after a delay (a personal rule)."""

    user_id: int | None
    contact_method_id: int | None
    channel: str
    address: str
    delay_minutes: float
    rule: int


def contact_routes(user, *, high_urgency: bool = True) -> list[Route]:
    """How to reach a person: their personal notification rules (high-urgency-only rules apply
    to major incidents), or the default for someone without rules (in-app and email at once)."""
    from teams.selectors import notification_plan_for

    plan = notification_plan_for(user=user, urgency="high" if high_urgency else "all")
    return [
        # In-app messages go to the person's own channel group: the address is their id.
        Route(
            user.pk,
            step.contact_method.pk,
            step.contact_method.kind,
            str(user.pk) if step.contact_method.kind == "in_app" else step.contact_method.address,
            float(step.delay_minutes),
            position,
        )
        for position, step in enumerate(plan)
    ]


def _users(ids):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(pk__in=ids, is_active=True)
    by_id = {user.pk: user for user in users}
    return [by_id[i] for i in ids if i in by_id]


def step_targets(step: StepSpec, *, incident: Incident, at: datetime) -> list:
    """The people a step pages (not the webhook or wait steps)."""
    from teams import selectors as people
    from teams.models import Membership, Team

    team_id = step.team_id or incident.team_id
    kind = step.kind
    if kind == EscalationStep.Kind.NOTIFY_SCHEDULE and step.schedule_id:
        from teams.models import Schedule

        schedule = Schedule.objects.filter(pk=step.schedule_id).first()
        return list(people.schedule_oncall_now(schedule=schedule, at=at)) if schedule else []
    if kind == EscalationStep.Kind.NOTIFY_USERS:
        return _users(step.user_ids)
    if kind == EscalationStep.Kind.NOTIFY_TEAM:
        members = Membership.objects.filter(team_id=team_id).exclude(role=Membership.Role.OBSERVER)
        return [m.user for m in members.select_related("user") if m.user.is_active]
    if kind == EscalationStep.Kind.NOTIFY_MANAGER:
        team = Team.objects.filter(pk=team_id).first()  # a snapshot may outlive its team
        return list(people.team_managers(team=team)) if team else []
    if kind == EscalationStep.Kind.HAND_OFF:
        team = Team.objects.filter(pk=team_id).first()
        return list(people.team_oncall_now(team=team, at=at)) if team else []
    if kind == EscalationStep.Kind.ROUND_ROBIN and step.user_ids:
        live = EscalationStep.objects.select_for_update().filter(pk=step.step_id).first()
        cursor = live.round_robin_cursor if live else 0
        if live:
            live.round_robin_cursor = cursor + 1
            live.save(update_fields=["round_robin_cursor"])
        return _users([step.user_ids[cursor % len(step.user_ids)]])
    return []


def fallback_targets(*, incident: Incident) -> list:
    """Nobody reachable: the team's managers, then the IOC floor lead."""
    from django.contrib.auth import get_user_model

    from teams import selectors as people

    urgent = incident.is_major
    managers = [
        u
        for u in people.team_managers(team=incident.team)
        if contact_routes(u, high_urgency=urgent)
    ]
    if managers:
        return managers
    lead = get_user_model().objects.filter(username=settings.IOC_FLOOR_LEAD, is_active=True).first()
    return [lead] if lead and contact_routes(lead, high_urgency=urgent) else []


# --- the engine ---


def _notify(
    *,
    incident: Incident,
    run: int,
    repeat: int,
    step: int,
    users,
    now: datetime,
    purpose: str = "page",
) -> int:
    """Notification rows for these people, one per personal rule, due after the rule's delay."""
    created = 0
    for user in users:
        for route in contact_routes(user, high_urgency=incident.is_major):
            key = notification_key(
                incident_id=incident.pk,
                run=run,
                step=step,
                repeat=repeat,
                user_id=user.pk,
                contact_method_id=route.contact_method_id,
                rule=route.rule,
                purpose=purpose,
            )
            _, made = Notification.objects.get_or_create(
                key=key,
                defaults={
                    "incident": incident,
                    "run": run,
                    "step": step,
                    "repeat": repeat,
                    "user": user,
                    "contact_method_id": route.contact_method_id,
                    "rule_position": route.rule,
                    "channel": route.channel,
                    "address": route.address,
                    "purpose": purpose,
                    "due_at": now + timedelta(minutes=route.delay_minutes),
                },
            )
            created += made
    return created


def _reachable(users, *, high_urgency: bool) -> list:
    return [user for user in users if contact_routes(user, high_urgency=high_urgency)]


def escalation_start(
    *, incident: Incident, policy: EscalationPolicy | None = None, delay_seconds: float = 0
) -> Escalation | None:
    """Start (or restart, as a new run) the incident's escalation with its team's policy."""
    policy = (
        policy or EscalationPolicy.objects.filter(team_id=incident.team_id, is_default=True).first()
    )
    if policy is None:
        return None
    now = timezone.now()
    snapshot = policy_snapshot(policy)
    escalation = Escalation.objects.select_for_update().filter(incident=incident).first()
    if escalation is None:
        escalation = Escalation(incident=incident, run=1, started_at=now)
    else:
        escalation.run += 1
    escalation.policy = policy
    escalation.snapshot = snapshot
    escalation.step_index = 0
    escalation.repeat = 0
    escalation.state = Escalation.State.ACTIVE
    escalation.ack_deadline = None
    escalation.next_at = now + timedelta(seconds=delay_seconds)
    escalation.save()
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.ESCALATION,
        message=f"Escalation started with policy {policy.name} (run {escalation.run})",
        data={"policy": policy.pk, "run": escalation.run, "steps": len(snapshot["steps"])},
    )
    return escalation


def _cancel_pending_pages(incident: Incident) -> int:
    # A page its sender holds right now is skipped: waiting for it here, with the incident
    # locked, deadlocks with the sender's timeline insert (which checks the incident). It was
    # just sent, or its next attempt finds it no longer wanted (notifications._still_wanted).
    pending = Notification.objects.select_for_update(skip_locked=True).filter(
        incident=incident, status=Notification.Status.PENDING, purpose="page"
    )
    return Notification.objects.filter(pk__in=list(pending.values_list("pk", flat=True))).update(
        status=Notification.Status.CANCELLED
    )


def escalation_on_acknowledged(*, incident: Incident) -> bool:
    """Acknowledgement stops paging; with an ack timeout, it re-triggers if not resolved.
    Returns whether there was paging to stop."""
    escalation = Escalation.objects.select_for_update().filter(incident=incident).first()
    # An exhausted policy may still have delayed personal-rule pages pending, and its
    # acknowledgement still starts the timeout.
    if escalation is None or escalation.state not in (
        Escalation.State.ACTIVE,
        Escalation.State.EXHAUSTED,
    ):
        return False
    _cancel_pending_pages(incident)
    timeout = spec_from_snapshot(escalation.snapshot).ack_timeout_minutes
    escalation.state = Escalation.State.ACKNOWLEDGED
    escalation.ack_deadline = timezone.now() + timedelta(minutes=timeout) if timeout else None
    escalation.save(update_fields=["state", "ack_deadline", "updated_at"])
    return True


def escalation_on_resolved(*, incident: Incident) -> None:
    """Resolve stops the escalation and tells everyone who was paged."""
    escalation = Escalation.objects.select_for_update().filter(incident=incident).first()
    if escalation is None:
        return
    _cancel_pending_pages(incident)
    escalation.state = Escalation.State.STOPPED
    escalation.next_at = None
    escalation.ack_deadline = None
    escalation.save(update_fields=["state", "next_at", "ack_deadline", "updated_at"])
    paged_user_ids = set(
        Notification.objects.filter(
            incident=incident, purpose="page", status=Notification.Status.SENT
        )
        .exclude(user=None)
        .values_list("user_id", flat=True)
    )
    if paged_user_ids:
        _notify(
            incident=incident,
            run=escalation.run,
            repeat=escalation.repeat,
            step=-2,
            users=_users(sorted(paged_user_ids)),
            now=timezone.now(),
            purpose="resolved",
        )


def escalations_run_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Run the due step of every due escalation. Safe to run in several workers at once."""
    now = now or timezone.now()
    done = 0
    with transaction.atomic():
        due = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=Escalation.State.ACTIVE, next_at__lte=now)
            .order_by("next_at")[:limit]
        )
        for escalation in due:
            try:
                # Its own savepoint: one broken escalation must not hold back every other page.
                with transaction.atomic():
                    done += _run_step(escalation=escalation, now=now)
            except Exception:
                log.exception("escalation %s: step failed; tried again next sweep", escalation.pk)
    return done


def _run_step(*, escalation: Escalation, now: datetime) -> bool:
    # Lock order is incident then escalation everywhere else (the workflow services); here we
    # hold the escalation, so never wait for the incident: if someone is acting on it right now,
    # leave this escalation to the next sweep.
    incident = (
        Incident.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("team")
        .filter(pk=escalation.incident_id)
        .first()
    )
    if incident is None:
        return False
    # Re-check under the lock: it may have been resolved meanwhile.
    if not incident.is_open:
        escalation.state = Escalation.State.STOPPED
        escalation.next_at = None
        escalation.save(update_fields=["state", "next_at", "updated_at"])
        return True
    spec = spec_from_snapshot(escalation.snapshot)
    if escalation.step_index >= len(spec.steps):
        escalation.state = Escalation.State.EXHAUSTED
        escalation.next_at = None
        escalation.save(update_fields=["state", "next_at", "updated_at"])
        return True
    step = spec.steps[escalation.step_index]
    label = f"step {escalation.step_index + 1} of {len(spec.steps)}"
    if not condition_holds(
        step.condition, at=now, time_zone=spec.time_zone, severity=incident.severity
    ):
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.ESCALATION,
            message=f"Escalation {label} skipped: its condition does not hold now",
            data={"run": escalation.run, "step": step.position},
        )
    else:
        if _execute(step=step, label=label, escalation=escalation, incident=incident, now=now):
            return True  # a hand-off started the receiving team's policy: leave it as it is
    move = next_move(spec, step_index=escalation.step_index, repeat=escalation.repeat)
    if move.step_index is None:
        escalation.state = Escalation.State.EXHAUSTED
        escalation.next_at = None
    else:
        escalation.step_index = move.step_index
        escalation.repeat = move.repeat
        escalation.next_at = now + timedelta(minutes=step.wait_minutes)
    escalation.save(update_fields=["state", "next_at", "step_index", "repeat", "updated_at"])
    return True


def _execute(
    *, step: StepSpec, label: str, escalation: Escalation, incident: Incident, now: datetime
) -> bool:
    """Carry out one step. True when a hand-off gave the incident a new escalation run."""
    kind = step.kind
    if kind == EscalationStep.Kind.WAIT:
        return False
    if kind == EscalationStep.Kind.WEBHOOK:
        key = notification_key(
            incident_id=incident.pk,
            run=escalation.run,
            step=step.position,
            repeat=escalation.repeat,
            user_id=None,
            contact_method_id=None,
            rule=0,
        )
        Notification.objects.get_or_create(
            key=key,
            defaults={
                "incident": incident,
                "run": escalation.run,
                "step": step.position,
                "repeat": escalation.repeat,
                "channel": step.webhook_format or "webhook",
                "address": step.webhook_url,
                "due_at": now,
            },
        )
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.ESCALATION,
            message=f"Escalation {label}: calling the outgoing webhook",
            data={"run": escalation.run, "step": step.position},
        )
        return False
    if kind == EscalationStep.Kind.HAND_OFF and step.team_id and step.team_id != incident.team_id:
        from teams.models import Team

        from .ownership import incident_hand_off

        to_team = Team.objects.filter(pk=step.team_id).first()
        if to_team is not None:
            incident_hand_off(
                incident_id=incident.pk,
                to_team=to_team,
                reason=f"escalation policy {escalation.snapshot.get('name')}, {label}",
                actor=None,
                via=Via.SYSTEM,
            )
            incident.refresh_from_db()
            if Escalation.objects.filter(pk=escalation.pk).values_list("run", flat=True)[0] != (
                escalation.run
            ):
                # The receiving team's policy started as a new run and pages its on-call
                # itself; paging them here too would page them twice.
                return True
    targets = step_targets(step, incident=incident, at=now)
    reachable = _reachable(targets, high_urgency=incident.is_major)
    if reachable:
        _notify(
            incident=incident,
            run=escalation.run,
            repeat=escalation.repeat,
            step=step.position,
            users=reachable,
            now=now,
        )
        names = ", ".join(user.get_username() for user in reachable)
        timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.ESCALATION,
            message=f"Escalation {label}: paging {names}",
            data={
                "run": escalation.run,
                "step": step.position,
                "users": [u.get_username() for u in reachable],
            },
        )
        return False
    fallback = fallback_targets(incident=incident)
    _notify(
        incident=incident,
        run=escalation.run,
        repeat=escalation.repeat,
        step=-1,
        users=fallback,
        now=now,
    )
    who = (
        ", ".join(u.get_username() for u in fallback)
        or "nobody (no manager or floor lead with a contact method)"
    )
    timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.ESCALATION,
        message=f"Escalation {label} reached nobody; paging the fallback: {who}",
        data={
            "run": escalation.run,
            "step": step.position,
            "fallback": True,
            "users": [u.get_username() for u in fallback],
        },
    )
    return False


def escalations_ack_timeouts_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """An acknowledgement not followed by resolution in time re-triggers the escalation as a new
    run, so its pages are new pages, not repeats."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        due = list(
            Escalation.objects.select_for_update(skip_locked=True, of=("self",)).filter(
                state=Escalation.State.ACKNOWLEDGED, ack_deadline__lte=now
            )[:limit]
        )
        for escalation in due:
            # As in _run_step: the escalation is held, so never wait for the incident (the
            # workflow locks incident then escalation); a busy one is left to the next sweep.
            incident = (
                Incident.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=escalation.incident_id)
                .first()
            )
            if incident is None:
                continue
            if incident.status not in OPEN_STATUSES:
                escalation.state = Escalation.State.STOPPED
                escalation.ack_deadline = None
                escalation.save(update_fields=["state", "ack_deadline", "updated_at"])
                continue
            escalation.run += 1
            escalation.state = Escalation.State.ACTIVE
            escalation.step_index = 0
            escalation.repeat = 0
            escalation.ack_deadline = None
            escalation.next_at = now
            escalation.save()
            timeline_append(
                incident=incident,
                kind=IncidentEvent.Kind.ESCALATION,
                message="Acknowledged but not resolved in time: escalation "
                f"re-triggered (run {escalation.run})",
                data={"run": escalation.run, "retrigger": True},
            )
            count += 1
    return count


def responders_page(*, incident: Incident, team, now: datetime | None = None) -> list:
    """A team added as responders: page whoever is on call for it now (its managers when
    nobody is), outside the escalation's steps. Returns who was paged."""
    from teams import selectors as people

    now = now or timezone.now()
    targets = _reachable(people.team_oncall_now(team=team, at=now), high_urgency=incident.is_major)
    if not targets:
        targets = _reachable(people.team_managers(team=team), high_urgency=incident.is_major)
    escalation = Escalation.objects.filter(incident=incident).first()
    # Keyed by the team: adding the same team twice in a run never pages twice.
    _notify(
        incident=incident,
        run=escalation.run if escalation else 0,
        repeat=0,
        step=-(1000 + team.pk),
        users=targets,
        now=now,
        # Not a step of the escalation: an acknowledgement does not cancel it.
        purpose="responders",
    )
    return targets
