"""Browser pages: the live board and the incident page. Every action is an htmx POST onto the
same services as the API, answered with the incident fragment (409 with the reason shown when the
procedure refuses)."""

import logging

from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from teams.models import Team
from teams.selectors import oncall_board_context, team_ids_actionable_by

from . import ownership, services, updates
from .models import ResolutionCode, Status
from .selectors import (
    board_kpis,
    incident_detail_context,
    incident_get_for_user_or_404,
    incident_list_for_user,
    incident_user_may_act,
)
from .transitions import WorkflowRefused

log = logging.getLogger(__name__)


def _form_id(raw: str | None) -> int | None:
    """The id a form field chose, None when it holds none: a mistyped id is an invalid choice,
    not a 500 from the database lookup. isdecimal, not isdigit: int() refuses "²"."""
    return int(raw) if raw and raw.isdecimal() else None


@require_GET
def board(request):
    incidents = incident_list_for_user(user=request.user, status="open")
    context = {"incidents": incidents, "kpis": board_kpis(user=request.user)}
    context.update(oncall_board_context(user=request.user))
    return render(request, "incidents/board.html", context)


@require_GET
def incident_detail(request, pk: int):
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    return render(
        request,
        "incidents/detail.html",
        incident_detail_context(incident=incident, user=request.user),
    )


@require_http_methods(["GET", "POST"])
def incident_declare_view(request):
    """The board's "Declare incident" form: for phone calls and chat messages."""
    allowed = team_ids_actionable_by(user=request.user)
    teams = Team.objects.all() if allowed is None else Team.objects.filter(id__in=allowed)
    context = {"teams": teams, "severities": updates.SEVERITY_DEFINITIONS, "form": request.POST}
    if request.method == "POST":
        team = teams.filter(pk=_form_id(request.POST.get("team")) or 0).first()
        if team is None:
            context["error"] = "Choose a team you may declare incidents for."
        else:
            try:
                incident = updates.incident_declare(
                    team=team,
                    title=request.POST.get("title", ""),
                    severity=request.POST.get("severity", ""),
                    description=request.POST.get("description", ""),
                    service=request.POST.get("service", "")[:200],
                    actor=request.user,
                    via="web",
                )
            except WorkflowRefused as exc:
                context["error"] = str(exc)
            else:
                return redirect("incident-detail", pk=incident.pk)
    return render(
        request, "incidents/declare.html", context, status=400 if "error" in context else 200
    )


# --- actions ---------------------------------------------------------------------------------


def _user(username: str):
    if not username:
        return None
    return get_user_model().objects.filter(username=username, is_active=True).first()


def _team(pk: str | None) -> Team:
    team = Team.objects.filter(pk=_form_id(pk) or 0).first()
    if team is None:
        raise WorkflowRefused("choose a team")
    return team


def _resolve(request, incident):
    code = request.POST.get("resolution_code") or ResolutionCode.UNSPECIFIED
    if code not in ResolutionCode.values:
        raise WorkflowRefused("choose a resolution code")
    team_pk = request.POST.get("resolving_team")
    services.incident_resolve(
        incident_id=incident.pk,
        actor=request.user,
        via="web",
        resolving_team=_team(team_pk) if team_pk else None,
        code=code,
        summary=request.POST.get("summary", ""),
    )


def _status(request, incident):
    status = request.POST.get("status", "")
    if status not in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MITIGATED):
        raise WorkflowRefused("choose investigating, identified or mitigated")
    services.incident_transition(
        incident_id=incident.pk, to_status=status, actor=request.user, via="web"
    )


def _role(request, incident):
    username = request.POST.get("user", "")
    user = _user(username)
    if username and user is None:
        raise WorkflowRefused(f"no user {username!r}")
    ownership.incident_assign_role(
        incident_id=incident.pk,
        role=request.POST.get("role", ""),
        user=user,
        actor=request.user,
        via="web",
    )


def _merge(request, incident):
    from .merging import incident_merge

    number = request.POST.get("into", "").strip().lstrip("#")
    target = incident_list_for_user(user=request.user).filter(number=_form_id(number) or 0).first()
    if target is None:
        raise WorkflowRefused(f"no incident #{number} that you may see")
    if not incident_user_may_act(user=request.user, incident=target):
        raise WorkflowRefused(f"you may not act on #{target.number}")
    incident_merge(incident_id=incident.pk, into_id=target.pk, actor=request.user, via="web")


ACTIONS = {
    "merge": _merge,
    "acknowledge": lambda request, incident: services.incident_acknowledge(
        incident_id=incident.pk, actor=request.user, via="web"
    ),
    "resolve": _resolve,
    "status": _status,
    "reopen": lambda request, incident: services.incident_reopen(
        incident_id=incident.pk,
        actor=request.user,
        via="web",
        reason=request.POST.get("reason", ""),
    ),
    "close": lambda request, incident: services.incident_transition(
        incident_id=incident.pk, to_status=Status.CLOSED, actor=request.user, via="web"
    ),
    "severity": lambda request, incident: updates.incident_change_severity(
        incident_id=incident.pk,
        severity=request.POST.get("severity", ""),
        reason=request.POST.get("reason", ""),
        actor=request.user,
        via="web",
    ),
    "role": _role,
    "responders": lambda request, incident: ownership.incident_add_responders(
        incident_id=incident.pk,
        teams=[_team(request.POST.get("team"))],
        actor=request.user,
        via="web",
    ),
    "hand_off": lambda request, incident: ownership.incident_hand_off(
        incident_id=incident.pk,
        to_team=_team(request.POST.get("team")),
        reason=request.POST.get("reason", ""),
        actor=request.user,
        via="web",
    ),
    "note": lambda request, incident: updates.incident_add_note(
        incident_id=incident.pk,
        body=request.POST.get("body", ""),
        actor=request.user,
        via="web",
    ),
    "status_update": lambda request, incident: updates.incident_post_status_update(
        incident_id=incident.pk,
        body=request.POST.get("body", ""),
        actor=request.user,
        via="web",
    ),
}


@require_POST
def incident_action_view(request, pk: int, action: str):
    perform = ACTIONS.get(action)
    if perform is None:
        raise Http404("No such action")
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    if not incident_user_may_act(user=request.user, incident=incident):
        log.warning("user %s may not %s incident %s", request.user.pk, action, incident.pk)
        return HttpResponse("You may not act on this incident.", status=403)
    status, error = 200, ""
    try:
        perform(request, incident)
    except WorkflowRefused as exc:
        status, error = 409, str(exc)
    incident.refresh_from_db()
    context = incident_detail_context(incident=incident, user=request.user)
    context["error"] = error
    return render(request, "incidents/_incident_live.html", context, status=status)


def incident_acknowledge_view(request, pk: int):
    return incident_action_view(request, pk, "acknowledge")


def incident_resolve_view(request, pk: int):
    return incident_action_view(request, pk, "resolve")
