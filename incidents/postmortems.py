"""Postmortems: the document written after an incident, required for SEV1/SEV2 before closing.

A postmortem starts as a draft, prefilled from the incident; its timeline is the incident's own
(append-only) timeline, read when the document is shown or exported. Publishing freezes the
text; action items stay open to add and tick afterwards, because that work goes on for weeks.
"""

from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

# Modules rather than names, for the same import-cycle reason as in checklists.py.
from . import services
from .broadcast import incident_changed_on_commit
from .models import Incident, IncidentEvent
from .records import ActionItem, Postmortem

CONTENT_FIELDS = (
    "summary",
    "impact_customers",
    "impact_duration",
    "impact_services",
    "root_cause",
    "contributing_factors",
)
# A document without these explains nothing; the rest may honestly be "none".
REQUIRED_TO_PUBLISH = ("summary", "root_cause")
TITLE_MAX = ActionItem._meta.get_field("title").max_length
DURATION_MAX = Postmortem._meta.get_field("impact_duration").max_length


class PostmortemConflict(Exception):
    """The postmortem is not in a state that allows this (answered 409)."""


# --- pure helpers --------------------------------------------------------------------------


def utc_iso(moment: datetime | None) -> str:
    """2024-05-01T10:00:00Z: the export's time format, the same whatever the floor's zone."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def duration_text(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _label(field: str) -> str:
    return str(Postmortem._meta.get_field(field).verbose_name)


def actor_name(user) -> str:
    """Who did it, as the timeline messages of postmortems and checklists name them."""
    return user.get_username() if services._person(user) else "the system"


# --- selectors -----------------------------------------------------------------------------


def postmortem_for_incident(*, incident: Incident) -> Postmortem | None:
    return Postmortem.objects.select_related("created_by").filter(incident=incident).first()


def postmortem_timeline(*, incident: Incident) -> QuerySet[IncidentEvent]:
    """The incident's timeline as the document imports it: without the postmortem's own edits,
    which say how the document was written, not what happened."""
    return (
        incident.events.exclude(kind=IncidentEvent.Kind.POSTMORTEM)
        .select_related("actor")
        .order_by("at", "id")
    )


def postmortem_action_items(*, postmortem: Postmortem) -> QuerySet[ActionItem]:
    return postmortem.action_items.select_related("owner")


def action_item_get(*, postmortem: Postmortem, pk: int) -> ActionItem:
    """The action item of this postmortem, or ActionItem.DoesNotExist."""
    return postmortem_action_items(postmortem=postmortem).get(pk=pk)


def action_item_owner_choices():
    # Anyone may own an action item: the fix is often an application team's, outside the IOC.
    return get_user_model().objects.filter(is_active=True).order_by("username")


def postmortem_block_reason(*, incident: Incident, postmortem: Postmortem | None) -> str | None:
    """Why the incident may not close yet, given its postmortem (already loaded), or None."""
    if not incident.is_major:
        return None
    if postmortem is None:
        return (
            f"{incident.severity} incidents need a published postmortem before closing; "
            "none has been started."
        )
    if postmortem.state != Postmortem.State.PUBLISHED:
        return (
            f"{incident.severity} incidents need a published postmortem before closing; "
            "it is still a draft."
        )
    return None


def postmortem_blocks_close(*, incident: Incident) -> str | None:
    """The reason a SEV1/SEV2 incident may not close (no published postmortem), or None."""
    if not incident.is_major:
        return None
    return postmortem_block_reason(
        incident=incident, postmortem=postmortem_for_incident(incident=incident)
    )


# --- services ------------------------------------------------------------------------------


def _append(postmortem: Postmortem, message: str, *, actor, via: str, data: dict) -> None:
    incident = postmortem.incident
    services.timeline_append(
        incident=incident,
        kind=IncidentEvent.Kind.POSTMORTEM,
        message=message,
        actor=actor,
        via=via,
        data={"postmortem": postmortem.pk, **data},
    )
    incident_changed_on_commit(incident_id=incident.pk, team_id=incident.team_id)


def postmortem_start(*, incident: Incident, actor, via: str) -> Postmortem:
    """Create the draft, prefilled from the incident (services, duration of impact, resolution
    summary). PostmortemConflict when the incident already has one."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if Postmortem.objects.filter(incident=incident).exists():
            raise PostmortemConflict(f"Incident #{incident.number} already has a postmortem.")
        duration = ""
        if incident.resolved_at is not None:
            duration = duration_text(incident.resolved_at - incident.opened_at)
        postmortem = Postmortem.objects.create(
            incident=incident,
            summary=incident.resolution_summary,
            impact_duration=duration,
            impact_services=incident.service,
            created_by=services._person(actor),
        )
        _append(
            postmortem,
            f"Postmortem started by {actor_name(actor)}",
            actor=actor,
            via=via,
            data={"action": "started"},
        )
    return postmortem


def postmortem_update(
    *,
    postmortem: Postmortem,
    actor,
    via: str,
    summary: str | None = None,
    impact_customers: str | None = None,
    impact_duration: str | None = None,
    impact_services: str | None = None,
    root_cause: str | None = None,
    contributing_factors: str | None = None,
) -> Postmortem:
    """Change the text of a draft; None leaves a field as it is. PostmortemConflict once it is
    published: the published document is the record."""
    given = {
        "summary": summary,
        "impact_customers": impact_customers,
        "impact_duration": impact_duration,
        "impact_services": impact_services,
        "root_cause": root_cause,
        "contributing_factors": contributing_factors,
    }
    given = {field: value.strip() for field, value in given.items() if value is not None}
    if len(given.get("impact_duration", "")) > DURATION_MAX:
        raise ValidationError({"impact_duration": f"At most {DURATION_MAX} characters."})
    with transaction.atomic():
        postmortem = (
            Postmortem.objects.select_for_update().select_related("incident").get(pk=postmortem.pk)
        )
        if postmortem.state == Postmortem.State.PUBLISHED:
            raise PostmortemConflict("The postmortem is published; its text can no longer change.")
        changed = [field for field, value in given.items() if getattr(postmortem, field) != value]
        if not changed:
            return postmortem
        for field in changed:
            setattr(postmortem, field, given[field])
        postmortem.save(update_fields=[*changed, "updated_at"])
        _append(
            postmortem,
            f"Postmortem edited by {actor_name(actor)}: {', '.join(map(_label, changed))}",
            actor=actor,
            via=via,
            data={"action": "edited", "fields": changed},
        )
    return postmortem


def postmortem_publish(*, postmortem: Postmortem, actor, via: str) -> Postmortem:
    """Publish the draft. PostmortemConflict when already published or while the incident is
    still open (its timeline is not finished); ValidationError naming missing sections."""
    with transaction.atomic():
        postmortem = Postmortem.objects.select_for_update().get(pk=postmortem.pk)
        incident = Incident.objects.get(pk=postmortem.incident_id)
        postmortem.incident = incident
        if postmortem.state == Postmortem.State.PUBLISHED:
            raise PostmortemConflict("The postmortem is already published.")
        if incident.is_open:
            raise PostmortemConflict(
                f"Incident #{incident.number} is still {incident.status}; "
                "resolve it before publishing its postmortem."
            )
        missing = {
            field: f"{_label(field).capitalize()} is needed to publish."
            for field in REQUIRED_TO_PUBLISH
            if not getattr(postmortem, field).strip()
        }
        if missing:
            raise ValidationError(missing)
        postmortem.state = Postmortem.State.PUBLISHED
        postmortem.published_at = timezone.now()
        postmortem.save(update_fields=["state", "published_at", "updated_at"])
        _append(
            postmortem,
            f"Postmortem published by {actor_name(actor)}",
            actor=actor,
            via=via,
            data={"action": "published"},
        )
    return postmortem


def _clean_action_item(title: str, owner) -> str:
    title = (title or "").strip()
    errors = {}
    if not title:
        errors["title"] = "An action item needs a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"At most {TITLE_MAX} characters."
    if owner is not None and not owner.is_active:
        errors["owner"] = f"{owner.get_username()} is not an active user."
    if errors:
        raise ValidationError(errors)
    return title


def _describe(item: ActionItem) -> str:
    details = []
    if item.owner_id:
        details.append(f"owner {item.owner.get_username()}")
    if item.due_date:
        details.append(f"due {item.due_date.isoformat()}")
    return item.title + (f" ({', '.join(details)})" if details else "")


def action_item_add(
    *,
    postmortem: Postmortem,
    title: str,
    actor,
    via: str,
    owner=None,
    due_date: date | None = None,
) -> ActionItem:
    """Add an action item, to a draft or a published postmortem."""
    title = _clean_action_item(title, owner)
    with transaction.atomic():
        postmortem = Postmortem.objects.select_related("incident").get(pk=postmortem.pk)
        item = ActionItem.objects.create(
            postmortem=postmortem, title=title, owner=owner, due_date=due_date
        )
        _append(
            postmortem,
            f"Action item added by {actor_name(actor)}: {_describe(item)}",
            actor=actor,
            via=via,
            data={"action": "action_item_added", "action_item": item.pk},
        )
    return item


def action_item_update(
    *, item: ActionItem, title: str, owner, due_date: date | None, actor, via: str
) -> ActionItem:
    """Replace an action item's title, owner and due date (the admin edits them in place)."""
    title = _clean_action_item(title, owner)
    with transaction.atomic():
        item = (
            ActionItem.objects.select_for_update()
            .select_related("postmortem__incident")
            .get(pk=item.pk)
        )
        new = {"title": title, "owner_id": owner.pk if owner else None, "due_date": due_date}
        changed = [field for field, value in new.items() if getattr(item, field) != value]
        if not changed:
            return item
        item.title, item.owner, item.due_date = title, owner, due_date
        item.save(update_fields=[field.removesuffix("_id") for field in changed])
        _append(
            item.postmortem,
            f"Action item changed by {actor_name(actor)}: {_describe(item)}",
            actor=actor,
            via=via,
            data={"action": "action_item_changed", "action_item": item.pk},
        )
    return item


def action_item_set_done(*, item: ActionItem, done: bool, actor, via: str) -> ActionItem:
    """Tick or untick an action item; repeating its current state is a no-op."""
    with transaction.atomic():
        item = (
            ActionItem.objects.select_for_update()
            .select_related("postmortem__incident")
            .get(pk=item.pk)
        )
        if item.done == done:
            return item
        item.done = done
        item.save(update_fields=["done"])
        verb = "done" if done else "reopened"
        _append(
            item.postmortem,
            f"Action item {verb} by {actor_name(actor)}: {item.title}",
            actor=actor,
            via=via,
            data={"action": f"action_item_{verb}", "action_item": item.pk},
        )
    return item


# --- export --------------------------------------------------------------------------------


def _section(title: str, text: str) -> list[str]:
    return [f"## {title}", "", text.strip() or "_Not written yet._", ""]


def postmortem_markdown(*, postmortem: Postmortem) -> str:
    """The document as Markdown: title, summary, impact, the incident's timeline (UTC), root
    cause, contributing factors and the action items as a task list."""
    incident = postmortem.incident
    facts = [
        f"- Incident: #{incident.number} {_one_line(incident.title)}",
        f"- Severity: {incident.severity}",
        f"- Team: {incident.team.name}",
        f"- Status: {incident.get_status_display()}",
        f"- Opened: {utc_iso(incident.opened_at)}",
    ]
    if incident.resolved_at:
        facts.append(f"- Resolved: {utc_iso(incident.resolved_at)}")
    if incident.closed_at:
        facts.append(f"- Closed: {utc_iso(incident.closed_at)}")
    if postmortem.state == Postmortem.State.PUBLISHED:
        facts.append(f"- Postmortem: published {utc_iso(postmortem.published_at)}")
    else:
        facts.append("- Postmortem: draft")
    lines = [f"# Postmortem: #{incident.number} {_one_line(incident.title)}", "", *facts, ""]
    lines += _section("Summary", postmortem.summary)
    lines += [
        "## Impact",
        "",
        f"- Customers affected: {_one_line(postmortem.impact_customers) or 'not stated'}",
        f"- Duration: {_one_line(postmortem.impact_duration) or 'not stated'}",
        f"- Services affected: {_one_line(postmortem.impact_services) or 'not stated'}",
        "",
        "## Timeline (UTC)",
        "",
    ]
    for event in postmortem_timeline(incident=incident):
        source = f"{event.actor.get_username()} via {event.via}" if event.actor else event.via
        lines.append(f"- {utc_iso(event.at)} {_one_line(event.message)} ({source})")
    lines.append("")
    lines += _section("Root cause", postmortem.root_cause)
    lines += _section("Contributing factors", postmortem.contributing_factors)
    lines += ["## Action items", ""]
    items = list(postmortem_action_items(postmortem=postmortem))
    for item in items:
        details = [f"owner: {item.owner.get_username() if item.owner else 'unassigned'}"]
        if item.due_date:
            details.append(f"due: {item.due_date.isoformat()}")
        mark = "x" if item.done else " "
        lines.append(f"- [{mark}] {_one_line(item.title)} ({', '.join(details)})")
    if not items:
        lines.append("_None._")
    return "\n".join(lines).rstrip() + "\n"
