"""The person's own page: how IOC reaches me (contact methods) and when (personal rules)."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from .models import ContactMethod, NotificationRule
from .selectors import contact_method_list_for, notification_plan_for, notification_rule_list_for
from .services import (
    contact_method_create,
    contact_method_delete,
    notification_rule_create,
    notification_rule_delete,
)


def _context(user, error: str = "") -> dict:
    return {
        "methods": contact_method_list_for(user=user),
        "rules": notification_rule_list_for(user=user),
        "plan": notification_plan_for(user=user),
        "kinds": ContactMethod.Kind.choices,
        "urgencies": NotificationRule.Urgency.choices,
        "error": error,
    }


def _answer(request, error: str = ""):
    template = "teams/_me_notifications.html" if request.htmx else "teams/me.html"
    return render(request, template, _context(request.user, error), status=400 if error else 200)


def _message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


@require_GET
def me_view(request):
    return _answer(request)


@require_POST
def me_method_add_view(request):
    try:
        contact_method_create(
            user=request.user,
            kind=request.POST.get("kind", ""),
            address=request.POST.get("address", ""),
            label=request.POST.get("label", ""),
        )
    except ValidationError as exc:
        return _answer(request, _message(exc))
    return _answer(request)


@require_POST
def me_method_delete_view(request, pk: int):
    method = contact_method_list_for(user=request.user).filter(pk=pk).first()
    if method is None:
        raise Http404("No such contact method")
    contact_method_delete(contact_method=method)
    return _answer(request)


@require_POST
def me_rule_add_view(request):
    raw = request.POST.get("contact_method", "")
    # isdecimal, not isdigit: int() refuses "²". Anything but an id is no choice at all.
    methods = contact_method_list_for(user=request.user)
    method = methods.filter(pk=int(raw)).first() if raw.isdecimal() else None
    if method is None:
        return _answer(request, "Choose one of your contact methods.")
    try:
        delay = int(request.POST.get("delay_minutes") or 0)
        notification_rule_create(
            user=request.user,
            contact_method=method,
            delay_minutes=delay,
            urgency=request.POST.get("urgency") or NotificationRule.Urgency.ALL,
        )
    except ValueError:
        return _answer(request, "The delay is a whole number of minutes.")
    except ValidationError as exc:
        return _answer(request, _message(exc))
    return _answer(request)


@require_POST
def me_rule_delete_view(request, pk: int):
    rule = notification_rule_list_for(user=request.user).filter(pk=pk).first()
    if rule is None:
        raise Http404("No such rule")
    notification_rule_delete(rule=rule)
    return _answer(request)
