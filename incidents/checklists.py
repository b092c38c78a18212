"""Checklists and runbooks: the steps of an incident, added, ticked and assigned by the floor.

Runbook templates are applied when an incident opens (`checklist_apply_runbooks`, called by
`incident_open`), each template at most once per incident. Every change to an item is a
timeline event and a live push.
"""

import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from teams.models import Membership

# Modules rather than names: services.incident_open calls checklist_apply_runbooks and
# selectors.incident_detail_context may merge incident_records_context, so either of them may
# import this module while it is itself half-imported.
from . import postmortems, selectors, services
from .broadcast import incident_changed_on_commit
from .models import Incident, IncidentEvent, Via
from .records import ChecklistItem, RunbookTemplate

log = logging.getLogger(__name__)

TITLE_MAX = ChecklistItem._meta.get_field("title").max_length
LINK_MAX = ChecklistItem._meta.get_field("link").max_length
_url_validator = URLValidator(schemes=["http", "https"])


# --- pure helpers --------------------------------------------------------------------------


def _link_problem(link: str) -> str | None:
    if len(link) > LINK_MAX:
        return f"at most {LINK_MAX} characters"
    try:
        _url_validator(link)
    except ValidationError:
        # Only http(s): a link is rendered as <a href>, and javascript: must never get there.
        return "must be an http:// or https:// address"
    return None


def runbook_steps_parse(steps) -> list[tuple[str, str]]:
    """The (title, link) pairs of a template's steps, or ValueError naming the bad step.

    A step is {"title": ..., "link": ...} (link optional) or a plain string title."""
    if not isinstance(steps, list):
        raise ValueError('steps must be a list, e.g. [{"title": "Check replication"}]')
    parsed = []
    for number, step in enumerate(steps, start=1):
        if isinstance(step, str):
            step = {"title": step}
        if not isinstance(step, dict):
            raise ValueError(f"step {number}: must be an object with a title and an optional link")
        title, link = step.get("title"), step.get("link") or ""
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"step {number}: needs a title")
        if len(title.strip()) > TITLE_MAX:
            raise ValueError(f"step {number}: the title has more than {TITLE_MAX} characters")
        if not isinstance(link, str):
            raise ValueError(f"step {number}: the link must be a string")
        if link.strip() and (problem := _link_problem(link.strip())):
            raise ValueError(f"step {number}: the link {problem}")
        parsed.append((title.strip(), link.strip()))
    return parsed


def _clean_item(title: str, link: str) -> tuple[str, str]:
    title, link = (title or "").strip(), (link or "").strip()
    errors = {}
    if not title:
        errors["title"] = "An item needs a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"At most {TITLE_MAX} characters."
    if link and (problem := _link_problem(link)):
        errors["link"] = f"The link {problem}."
    if errors:
        raise ValidationError(errors)
    return title, link


# --- selectors -----------------------------------------------------------------------------


def runbook_templates_matching(*, service: str, alert_name: str) -> QuerySet[RunbookTemplate]:
    """Enabled templates for this service and alert name; an empty field on a template matches
    anything. Case and surrounding spaces do not matter: monitoring tools disagree on both."""
    service, alert_name = (service or "").strip(), (alert_name or "").strip()
    service_q, alert_q = Q(service=""), Q(alert_name="")
    if service:
        service_q |= Q(service__iexact=service)
    if alert_name:
        alert_q |= Q(alert_name__iexact=alert_name)
    return RunbookTemplate.objects.filter(service_q, alert_q, enabled=True).order_by("name", "id")


def checklist_for_incident(*, incident: Incident) -> QuerySet[ChecklistItem]:
    return incident.checklist.select_related("assignee", "done_by", "template")


def checklist_item_get(*, incident: Incident, pk: int) -> ChecklistItem:
    """The item of this incident, or ChecklistItem.DoesNotExist."""
    return checklist_for_incident(incident=incident).get(pk=pk)


def checklist_assignee_choices(*, incident: Incident):
    """Active people who may act on the incident, for the assignee picker.

    One query that mirrors teams.selectors (staff and managers everywhere; members, not
    observers, of the incident's team; any IOC member on an IOC team's incident), because asking
    incident_user_may_act person by person would cost queries on every live push. The service
    still checks each assignment with incident_user_may_act, which stays the authority."""
    role = Membership.Role
    team = incident.team
    may_act = (
        Q(is_staff=True)
        | Q(is_superuser=True)
        | Q(memberships__role=role.MANAGER)
        | Q(memberships__team=team, memberships__role=role.MEMBER)
    )
    if team.in_ioc:
        may_act |= Q(memberships__team__in_ioc=True, memberships__role=role.MEMBER)
    users = get_user_model().objects.filter(may_act, is_active=True)
    return users.distinct().order_by("username")


def incident_records_context(*, incident: Incident, user) -> dict:
    """What `_checklist.html` and `_postmortem_link.html` render, from the incident and user.

    Merge it into the incident page context (incident_detail_context) so the page, the live
    fragment and the partials' own responses all render the same way."""
    may_act = selectors.incident_user_may_act(user=user, incident=incident)
    items = list(checklist_for_incident(incident=incident))
    postmortem = postmortems.postmortem_for_incident(incident=incident)
    return {
        "may_act": may_act,
        "checklist_items": items,
        "checklist_done": sum(1 for item in items if item.done_at),
        "checklist_assignees": (
            list(checklist_assignee_choices(incident=incident)) if may_act else []
        ),
        "postmortem": postmortem,
        "postmortem_block_reason": postmortems.postmortem_block_reason(
            incident=incident, postmortem=postmortem
        ),
    }


# --- services ------------------------------------------------------------------------------


def _lock_incident(incident: Incident) -> None:
    # Serialises writers of one incident's checklist: positions stay unique and a template is
    # not applied twice by two concurrent callers.
    list(Incident.objects.select_for_update().filter(pk=incident.pk).values_list("pk"))


def _next_position(incident: Incident) -> int:
    highest = incident.checklist.aggregate(highest=Max("position"))["highest"]
    return 0 if highest is None else highest + 1


def checklist_apply_runbooks(*, incident: Incident, alert_name: str = "") -> int:
    """Add the steps of every matching runbook template not yet applied to the incident.

    Matching: see runbook_templates_matching. Calling it again (a retry, another alert joining)
    only adds templates that were not applied before. Returns the number of items added."""
    added = 0
    with transaction.atomic():
        _lock_incident(incident)
        applied = set(
            incident.checklist.filter(template__isnull=False).values_list("template_id", flat=True)
        )
        position = _next_position(incident)
        for template in runbook_templates_matching(service=incident.service, alert_name=alert_name):
            if template.pk in applied:
                continue
            try:
                steps = runbook_steps_parse(template.steps)
            except ValueError as exc:
                # The admin validates steps; a template broken some other way must not stop an
                # incident from opening.
                log.warning("runbook template %s skipped: %s", template.pk, exc)
                continue
            if not steps:
                continue
            ChecklistItem.objects.bulk_create(
                ChecklistItem(
                    incident=incident,
                    title=title,
                    link=link,
                    position=position + offset,
                    template=template,
                )
                for offset, (title, link) in enumerate(steps)
            )
            position += len(steps)
            added += len(steps)
            services.timeline_append(
                incident=incident,
                kind=IncidentEvent.Kind.CHECKLIST_ITEM,
                message=f"Runbook '{template.name}' applied: {len(steps)} steps",
                via=Via.SYSTEM,
                data={"action": "runbook_applied", "runbook": template.pk, "steps": len(steps)},
            )
        if added:
            incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return added


def _check_assignee(incident: Incident, assignee) -> None:
    if not assignee.is_active or not selectors.incident_user_may_act(
        user=assignee, incident=incident
    ):
        raise ValidationError(
            {"assignee": f"{assignee.get_username()} may not act on incident #{incident.number}."}
        )


def checklist_item_add(
    *, incident: Incident, title: str, actor, via: str, link: str = "", assignee=None
) -> ChecklistItem:
    """Add an item at the end of the incident's checklist. ValidationError for bad input."""
    title, link = _clean_item(title, link)
    if assignee is not None:
        _check_assignee(incident, assignee)
    with transaction.atomic():
        _lock_incident(incident)
        item = ChecklistItem.objects.create(
            incident=incident,
            title=title,
            link=link,
            position=_next_position(incident),
            assignee=assignee,
        )
        services.timeline_append(
            incident=incident,
            kind=IncidentEvent.Kind.CHECKLIST_ITEM,
            message=f"Checklist item added by {postmortems.actor_name(actor)}: {title}",
            actor=actor,
            via=via,
            data={"action": "added", "item": item.pk},
        )
        incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)
    return item


def checklist_item_set_done(*, item: ChecklistItem, done: bool, actor, via: str) -> ChecklistItem:
    """Tick (recording who and when) or untick an item. Repeating its current state is a no-op,
    so two people ticking at once leave one event."""
    with transaction.atomic():
        item = ChecklistItem.objects.select_for_update().select_related("incident").get(pk=item.pk)
        if (item.done_at is not None) == done:
            return item
        item.done_at = timezone.now() if done else None
        item.done_by = actor if done and actor is not None and actor.is_authenticated else None
        item.save(update_fields=["done_at", "done_by"])
        verb = "done" if done else "reopened"
        services.timeline_append(
            incident=item.incident,
            kind=IncidentEvent.Kind.CHECKLIST_ITEM,
            message=f"Checklist item {verb} by {postmortems.actor_name(actor)}: {item.title}",
            actor=actor,
            via=via,
            data={"action": verb, "item": item.pk},
        )
        incident_changed_on_commit(incident_id=item.incident_id, team_id=item.incident.team_id)
    return item


def checklist_item_assign(*, item: ChecklistItem, assignee, actor, via: str) -> ChecklistItem:
    """Give the item to someone who may act on the incident, or to nobody (assignee=None)."""
    with transaction.atomic():
        item = ChecklistItem.objects.select_for_update().select_related("incident").get(pk=item.pk)
        if assignee is not None:
            _check_assignee(item.incident, assignee)
        if item.assignee_id == (assignee.pk if assignee is not None else None):
            return item
        item.assignee = assignee
        item.save(update_fields=["assignee"])
        message = (
            f"Checklist item assigned to {assignee.get_username()}"
            if assignee is not None
            else "Checklist item unassigned"
        )
        services.timeline_append(
            incident=item.incident,
            kind=IncidentEvent.Kind.CHECKLIST_ITEM,
            message=f"{message} by {postmortems.actor_name(actor)}: {item.title}",
            actor=actor,
            via=via,
            data={
                "action": "assigned",
                "item": item.pk,
                "assignee": assignee.get_username() if assignee is not None else None,
            },
        )
        incident_changed_on_commit(incident_id=item.incident_id, team_id=item.incident.team_id)
    return item
