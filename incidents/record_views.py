"""Browser views for checklists, postmortems and shift hand-over notes.

Actions are htmx POSTs answered with the fragment they change. Refused input (400) and a state
that forbids the action (409) come back as that fragment with the reason in it, and the
fragment's root tells htmx to swap those in too. Not visible -> 404; visible but not allowed ->
403, logged.
"""

import logging
from datetime import date
from functools import cache

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template import engines
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .checklists import (
    checklist_item_add,
    checklist_item_assign,
    checklist_item_get,
    checklist_item_set_done,
    incident_records_context,
)
from .handover import (
    HandoverAlreadyAcknowledged,
    HandoverOwnNote,
    shift_handover_acknowledge,
    shift_handover_create,
    shift_handover_get_for_user,
    shift_handover_incidents_for,
    shift_handover_list_for_user,
    shift_handover_open_incidents,
    shift_handover_user_may_read,
    shift_handover_user_may_write,
    shift_handover_visible_team_slugs,
)
from .models import Incident, Via
from .postmortems import (
    CONTENT_FIELDS,
    PostmortemConflict,
    action_item_add,
    action_item_get,
    action_item_owner_choices,
    action_item_set_done,
    postmortem_action_items,
    postmortem_block_reason,
    postmortem_for_incident,
    postmortem_publish,
    postmortem_start,
    postmortem_timeline,
    postmortem_update,
)
from .record_api import markdown_response
from .records import ActionItem, ChecklistItem, Postmortem, ShiftHandover
from .selectors import incident_get_for_user_or_404, incident_user_may_act

log = logging.getLogger(__name__)

HANDOVER_NOTES_SHOWN = 20


@cache
def _fragment_layout():
    # A page template extends `layout`: base.html for a normal request, and for htmx this
    # layout with nothing around the content block. One template serves as page and fragment.
    return engines["django"].from_string("{% block content %}{% endblock %}")


def _layout(request):
    return _fragment_layout() if request.htmx else "base.html"


def _forbidden(request, what: str, message: str) -> HttpResponse:
    log.warning("user %s refused: %s", request.user.pk, what)
    return HttpResponse(message, status=403)


def _may_not_act(request, incident: Incident) -> HttpResponse | None:
    if incident_user_may_act(user=request.user, incident=incident):
        return None
    return _forbidden(
        request, f"act on incident {incident.pk}", "You may not act on this incident."
    )


def _messages(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _active_user(raw: str):
    """The active user with this id, None for an empty choice; ValidationError otherwise."""
    if not raw:
        return None
    try:
        return get_user_model().objects.get(pk=int(raw), is_active=True)
    except (ValueError, get_user_model().DoesNotExist) as exc:
        raise ValidationError("No such person.") from exc


# --- checklists ----------------------------------------------------------------------------


def _checklist(request, incident: Incident, *, error: str = "", status: int = 200):
    context = {
        "incident": incident,
        **incident_records_context(incident=incident, user=request.user),
        "checklist_error": error,
    }
    return render(request, "incidents/_checklist.html", context, status=status)


def _checklist_item_or_404(incident: Incident, item_id: int) -> ChecklistItem:
    try:
        return checklist_item_get(incident=incident, pk=item_id)
    except ChecklistItem.DoesNotExist as exc:
        raise Http404("No such checklist item") from exc


@require_GET
def checklist_view(request, pk: int):
    return _checklist(request, incident_get_for_user_or_404(user=request.user, pk=pk))


@require_POST
def checklist_item_add_view(request, pk: int):
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    if refused := _may_not_act(request, incident):
        return refused
    try:
        checklist_item_add(
            incident=incident,
            title=request.POST.get("title", ""),
            link=request.POST.get("link", ""),
            actor=request.user,
            via=Via.WEB,
        )
    except ValidationError as exc:
        return _checklist(request, incident, error=_messages(exc), status=400)
    return _checklist(request, incident)


@require_POST
def checklist_item_done_view(request, pk: int, item_id: int):
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    if refused := _may_not_act(request, incident):
        return refused
    item = _checklist_item_or_404(incident, item_id)
    # A checkbox posts its value only when ticked, so the box's own state is what is asked for.
    done = request.POST.get("done") == "1"
    checklist_item_set_done(item=item, done=done, actor=request.user, via=Via.WEB)
    return _checklist(request, incident)


@require_POST
def checklist_item_assign_view(request, pk: int, item_id: int):
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    if refused := _may_not_act(request, incident):
        return refused
    item = _checklist_item_or_404(incident, item_id)
    try:
        assignee = _active_user(request.POST.get("assignee", ""))
        checklist_item_assign(item=item, assignee=assignee, actor=request.user, via=Via.WEB)
    except ValidationError as exc:
        return _checklist(request, incident, error=_messages(exc), status=400)
    return _checklist(request, incident)


# --- postmortems ---------------------------------------------------------------------------


def _postmortem_page(
    request,
    incident: Incident,
    *,
    error: str = "",
    notice: str = "",
    submitted: dict | None = None,
    status: int = 200,
):
    postmortem = postmortem_for_incident(incident=incident)
    may_act = incident_user_may_act(user=request.user, incident=incident)
    values = {field: getattr(postmortem, field, "") for field in CONTENT_FIELDS}
    values.update(submitted or {})
    context = {
        "layout": _layout(request),
        "incident": incident,
        "postmortem": postmortem,
        "may_act": may_act,
        "may_edit": may_act
        and postmortem is not None
        and postmortem.state == Postmortem.State.DRAFT,
        "values": values,
        "timeline": postmortem_timeline(incident=incident),
        "action_items": (
            postmortem_action_items(postmortem=postmortem) if postmortem is not None else []
        ),
        "owners": action_item_owner_choices() if may_act and postmortem is not None else [],
        "block_reason": postmortem_block_reason(incident=incident, postmortem=postmortem),
        "error": error,
        "notice": notice,
    }
    return render(request, "incidents/postmortem.html", context, status=status)


def _postmortem_to_act_on(
    request, pk: int
) -> tuple[Incident, Postmortem | None, HttpResponse | None]:
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    refused = _may_not_act(request, incident)
    return incident, postmortem_for_incident(incident=incident), refused


@require_GET
def postmortem_view(request, pk: int):
    return _postmortem_page(request, incident_get_for_user_or_404(user=request.user, pk=pk))


@require_POST
def postmortem_start_view(request, pk: int):
    incident, _postmortem, refused = _postmortem_to_act_on(request, pk)
    if refused:
        return refused
    try:
        postmortem_start(incident=incident, actor=request.user, via=Via.WEB)
    except PostmortemConflict as exc:
        return _postmortem_page(request, incident, error=str(exc), status=409)
    return _postmortem_page(request, incident, notice="Draft started.")


def _no_postmortem(request, incident: Incident):
    return _postmortem_page(request, incident, error="Start the postmortem first.", status=409)


@require_POST
def postmortem_save_view(request, pk: int):
    incident, postmortem, refused = _postmortem_to_act_on(request, pk)
    if refused:
        return refused
    if postmortem is None:
        return _no_postmortem(request, incident)
    # Only the fields the form sent: a missing field is left alone, not emptied.
    submitted = {field: request.POST[field] for field in CONTENT_FIELDS if field in request.POST}
    try:
        postmortem_update(postmortem=postmortem, actor=request.user, via=Via.WEB, **submitted)
    except PostmortemConflict as exc:
        return _postmortem_page(request, incident, error=str(exc), status=409)
    except ValidationError as exc:
        return _postmortem_page(
            request, incident, error=_messages(exc), submitted=submitted, status=400
        )
    return _postmortem_page(request, incident, notice="Saved.")


@require_POST
def postmortem_publish_view(request, pk: int):
    incident, postmortem, refused = _postmortem_to_act_on(request, pk)
    if refused:
        return refused
    if postmortem is None:
        return _no_postmortem(request, incident)
    try:
        postmortem_publish(postmortem=postmortem, actor=request.user, via=Via.WEB)
    except PostmortemConflict as exc:
        return _postmortem_page(request, incident, error=str(exc), status=409)
    except ValidationError as exc:
        return _postmortem_page(request, incident, error=_messages(exc), status=400)
    return _postmortem_page(request, incident, notice="Published.")


def _due_date(raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError("The due date must be a date like 2025-01-31.") from exc


@require_POST
def action_item_add_view(request, pk: int):
    incident, postmortem, refused = _postmortem_to_act_on(request, pk)
    if refused:
        return refused
    if postmortem is None:
        return _no_postmortem(request, incident)
    try:
        action_item_add(
            postmortem=postmortem,
            title=request.POST.get("title", ""),
            owner=_active_user(request.POST.get("owner", "")),
            due_date=_due_date(request.POST.get("due_date", "")),
            actor=request.user,
            via=Via.WEB,
        )
    except ValidationError as exc:
        return _postmortem_page(request, incident, error=_messages(exc), status=400)
    return _postmortem_page(request, incident, notice="Action item added.")


@require_POST
def action_item_done_view(request, pk: int, item_id: int):
    incident, postmortem, refused = _postmortem_to_act_on(request, pk)
    if refused:
        return refused
    if postmortem is None:
        raise Http404("No postmortem")
    try:
        item = action_item_get(postmortem=postmortem, pk=item_id)
    except ActionItem.DoesNotExist as exc:
        raise Http404("No such action item") from exc
    done = request.POST.get("done") == "1"
    action_item_set_done(item=item, done=done, actor=request.user, via=Via.WEB)
    return _postmortem_page(request, incident)


@require_GET
def postmortem_markdown_view(request, pk: int):
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    postmortem = postmortem_for_incident(incident=incident)
    if postmortem is None:
        raise Http404("No postmortem")
    return markdown_response(postmortem)


# --- shift hand-over -----------------------------------------------------------------------


def _handover_page(
    request,
    *,
    error: str = "",
    notice: str = "",
    submitted: dict | None = None,
    status: int = 200,
):
    user = request.user
    slugs = shift_handover_visible_team_slugs(user=user)
    notes = shift_handover_list_for_user(user=user)[:HANDOVER_NOTES_SHOWN]
    may_write = shift_handover_user_may_write(user=user)
    context = {
        "layout": _layout(request),
        "notes": [
            {
                "note": note,
                "incidents": shift_handover_incidents_for(handover=note, visible_team_slugs=slugs),
                "may_acknowledge": may_write
                and note.acknowledged_at is None
                and note.author_id != user.pk,
            }
            for note in notes
        ],
        "may_write": may_write,
        "open_now": shift_handover_open_incidents(user=user) if may_write else [],
        "submitted": submitted or {},
        "error": error,
        "notice": notice,
    }
    return render(request, "incidents/handover.html", context, status=status)


@require_http_methods(["GET", "POST"])
def handover_view(request):
    if request.method == "GET":
        if not shift_handover_user_may_read(user=request.user):
            return _forbidden(
                request, "read hand-over notes", "Shift hand-over notes are for the IOC floor."
            )
        return _handover_page(request)
    if not shift_handover_user_may_write(user=request.user):
        return _forbidden(
            request,
            "write a hand-over note",
            "Only managers and members inside the IOC write hand-over notes.",
        )
    submitted = {field: request.POST.get(field, "") for field in ("shift", "done", "watch")}
    try:
        shift_handover_create(author=request.user, via=Via.WEB, **submitted)
    except ValidationError as exc:
        return _handover_page(request, error=_messages(exc), submitted=submitted, status=400)
    return _handover_page(request, notice="Hand-over note written.")


@require_POST
def handover_acknowledge_view(request, pk: int):
    try:
        handover = shift_handover_get_for_user(user=request.user, pk=pk)
    except ShiftHandover.DoesNotExist as exc:
        raise Http404("No such hand-over note") from exc
    if not shift_handover_user_may_write(user=request.user):
        return _forbidden(
            request,
            f"acknowledge hand-over {pk}",
            "Observers may not acknowledge hand-over notes.",
        )
    try:
        shift_handover_acknowledge(handover=handover, user=request.user, via=Via.WEB)
    except HandoverOwnNote as exc:
        log.warning("user %s refused: acknowledge own hand-over %s", request.user.pk, pk)
        return _handover_page(request, error=str(exc), status=403)
    except HandoverAlreadyAcknowledged as exc:
        return _handover_page(request, error=str(exc), status=409)
    return _handover_page(request, notice="Acknowledged: the shift is yours.")
