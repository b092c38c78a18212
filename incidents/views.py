"""Browser pages: the live board and the incident page. Actions are htmx POSTs."""

import logging

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from .models import Incident
from .selectors import (
    incident_detail_context,
    incident_get_for_user,
    incident_list_for_user,
    incident_user_may_act,
)
from .services import incident_acknowledge, incident_resolve
from .transitions import TransitionNotAllowed

log = logging.getLogger(__name__)


def _incident_or_404(request, pk: int) -> Incident:
    try:
        return incident_get_for_user(user=request.user, pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404("No such incident") from exc


@require_GET
def board(request):
    incidents = incident_list_for_user(user=request.user, status="open")
    return render(request, "incidents/board.html", {"incidents": incidents})


@require_GET
def incident_detail(request, pk: int):
    incident = _incident_or_404(request, pk)
    return render(
        request,
        "incidents/detail.html",
        incident_detail_context(incident=incident, user=request.user),
    )


def _act(request, pk: int, action):
    incident = _incident_or_404(request, pk)
    if not incident_user_may_act(user=request.user, incident=incident):
        log.warning("user %s may not act on incident %s", request.user.pk, incident.pk)
        return HttpResponse("You may not act on this incident.", status=403)
    try:
        outcome = action(incident_id=incident.pk, actor=request.user, via="web")
    except TransitionNotAllowed as exc:
        return HttpResponse(str(exc), status=409)
    context = incident_detail_context(incident=outcome.incident, user=request.user)
    return render(request, "incidents/_incident_live.html", context)


@require_POST
def incident_acknowledge_view(request, pk: int):
    return _act(request, pk, incident_acknowledge)


@require_POST
def incident_resolve_view(request, pk: int):
    return _act(request, pk, incident_resolve)
