"""The silences page: active and upcoming silences, maintenance windows and inhibit rules, and
the floor's two actions, create a silence and expire one. Both are htmx POSTs answered with the
page's body fragment; refused input (400) and a refusal (403) come back as that fragment with
the reason in it. Windows and inhibit rules are managed in the admin or through the API."""

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from .matchers import FIELDS, OPS, VALUE_OPS
from .models import Silence
from .suppression import (
    inhibit_rule_list,
    maintenance_window_list,
    maintenance_window_occurrences,
    silence_create,
    silence_expire,
    silence_list,
    silence_state,
    silence_user_may_manage,
    window_spec_of,
)
from .windows import describe

log = logging.getLogger(__name__)

# (minutes, label) for the duration select; a silence starts now.
DURATIONS = [
    (30, "30 minutes"),
    (60, "1 hour"),
    (120, "2 hours"),
    (240, "4 hours"),
    (480, "8 hours"),
    (720, "12 hours"),
    (1440, "1 day"),
    (3 * 1440, "3 days"),
    (7 * 1440, "7 days"),
]
DEFAULT_DURATION = 120
EMPTY_ROWS = 2


def _context(request, *, error: str = "", notice: str = "", submitted: dict | None = None):
    now = timezone.now()
    silences = [
        {"silence": silence, "state": silence_state(silence, now)}
        for silence in silence_list(at=now, recent=timedelta(0))
    ]
    windows = []
    for window in maintenance_window_list():
        active, upcoming = maintenance_window_occurrences(window=window, at=now, count=2)
        windows.append(
            {
                "window": window,
                "schedule": describe(window_spec_of(window)),
                "active": active,
                "next": upcoming,
            }
        )
    submitted = submitted or {}
    rows = submitted.get("rows") or [{"field": "", "op": "=", "value": ""}] * EMPTY_ROWS
    return {
        "silences": silences,
        "windows": windows,
        "rules": list(inhibit_rule_list()),
        "may_silence": silence_user_may_manage(user=request.user),
        "durations": DURATIONS,
        "fields": [*FIELDS, "labels."],
        "ops": OPS,
        "rows": rows,
        "submitted": {"duration": str(DEFAULT_DURATION), **submitted},
        "error": error,
        "notice": notice,
    }


def _body(request, *, status: int = 200, **kwargs):
    return render(request, "alerts/_silences_body.html", _context(request, **kwargs), status=status)


@require_GET
def silence_list_view(request):
    return render(request, "alerts/silences.html", _context(request))


@require_GET
def silence_matcher_row_view(request):
    """One more empty matcher row for the create form."""
    row = {"field": "", "op": "=", "value": ""}
    return render(request, "alerts/_matcher_row.html", {"row": row, "ops": OPS})


def _rows(request) -> list[dict]:
    fields, ops = request.POST.getlist("field"), request.POST.getlist("op")
    values = request.POST.getlist("value")
    rows = []
    for index, name in enumerate(fields):
        op = ops[index] if index < len(ops) else "="
        value = values[index] if index < len(values) else ""
        rows.append({"field": name.strip(), "op": op, "value": value})
    return rows


def _matchers(rows: list[dict]) -> list[dict]:
    """Rows with a field become matchers; an op that takes no value drops what was typed."""
    matchers = []
    for row in rows:
        if not row["field"]:
            continue
        matcher = {"field": row["field"], "op": row["op"]}
        if row["op"] in VALUE_OPS:
            matcher["value"] = row["value"]
        matchers.append(matcher)
    return matchers


def _refused(request, what: str):
    log.warning("user %s refused: %s", request.user.pk, what)
    return _body(
        request,
        error="Only managers and the IOC's members create and expire silences.",
        status=403,
    )


@require_POST
def silence_create_view(request):
    if not silence_user_may_manage(user=request.user):
        return _refused(request, "create a silence")
    rows = _rows(request)
    submitted = {
        "rows": rows or None,
        "duration": request.POST.get("duration", ""),
        "comment": request.POST.get("comment", ""),
    }
    durations = {str(minutes) for minutes, _ in DURATIONS}
    if submitted["duration"] not in durations:
        return _body(request, error="Choose a duration.", submitted=submitted, status=400)
    now = timezone.now()
    try:
        silence_create(
            matchers=_matchers(rows),
            starts_at=now,
            ends_at=now + timedelta(minutes=int(submitted["duration"])),
            comment=submitted["comment"],
            actor=request.user,
            via="web",
        )
    except ValidationError as exc:
        error = " ".join(exc.messages)
        return _body(request, error=error, submitted=submitted, status=400)
    return _body(request, notice="Silence created.")


@require_POST
def silence_expire_view(request, pk: int):
    silence = Silence.objects.filter(pk=pk).first()
    if silence is None:
        raise Http404("No such silence")
    if not silence_user_may_manage(user=request.user):
        return _refused(request, f"expire silence {pk}")
    silence_expire(silence=silence, actor=request.user, via="web")
    return _body(request, notice="Silence expired: alerts still firing are routed as new.")
