"""Webhook endpoints. Thin: find the integration, hand the body to accept, answer as the sender
expects: IOC's own shape at /integrations/, PagerDuty's at /v2/enqueue, Opsgenie's at /v2/alerts."""

import time
import uuid

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.utils.datastructures import CaseInsensitiveMapping
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .accept import (
    RateLimited,
    delivery_accept,
    integration_find_by_token,
    integration_usable,
    token_from_authorization,
)
from .payloads import BodyError, decode_json
from .sources import PayloadError
from .sources import opsgenie as opsgenie_source
from .sources import pagerduty as pagerduty_source


def webhook(view):
    """Webhooks are called by machines: no login, no CSRF, POST only."""
    return csrf_exempt(login_not_required(require_POST(view)))


def json_error(status: int, message: str, *, retry_after: int | None = None, **extra):
    response = JsonResponse({"error": message, **extra}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def body_error_response(exc: BodyError) -> JsonResponse:
    """A refused delivery's answer. Over the rate limit this is a 503, never a 429: Alertmanager
    treats every 4xx as final and would drop the alert."""
    extra = {"field": exc.field} if exc.field else {}
    return json_error(exc.status, str(exc), retry_after=exc.retry_after, **extra)


def accepted_body(delivery_id: int) -> dict:
    return {"status": "accepted", "delivery_id": delivery_id}


def _accepted_or_error(request, integration_or_error):
    try:
        integration = integration_or_error()
        event = delivery_accept(
            integration=integration,
            body=request.body,
            content_type=request.META.get("CONTENT_TYPE", ""),
            headers=request.headers,
        )
    except BodyError as exc:
        return body_error_response(exc)
    return JsonResponse(accepted_body(event.pk), status=202)


@webhook
def integration_webhook(request, token: str):
    """POST /integrations/<token>/: the token in the path; unknown token 404."""
    return _accepted_or_error(
        request,
        lambda: integration_usable(integration_find_by_token(token=token), unknown_status=404),
    )


@webhook
def integration_webhook_authorized(request):
    """POST /integrations/: the token as `Authorization: Bearer` or basic-auth password; 401."""
    token = token_from_authorization(request.headers)
    return _accepted_or_error(
        request,
        lambda: integration_usable(integration_find_by_token(token=token), unknown_status=401),
    )


# --- PagerDuty Events API v2 ----------------------------------------------------------------------


def pagerduty_error(status: int, message: str, errors: list[str]) -> JsonResponse:
    return JsonResponse(
        {"status": "invalid event", "message": message, "errors": errors}, status=status
    )


@webhook
def pagerduty_enqueue(request):
    """POST /v2/enqueue with `routing_key` = the token of a pagerduty integration."""
    try:
        event = decode_json(request.body)
    except BodyError as exc:
        return pagerduty_error(400, "Event object is invalid", [str(exc)])
    errors = pagerduty_source.validate_event(event)
    if errors:
        return pagerduty_error(400, "Event object is invalid", errors)
    integration = integration_find_by_token(token=str(event["routing_key"]))
    if integration is None or integration.kind != "pagerduty":
        return pagerduty_error(404, "Event object is invalid", ["'routing_key' is not known"])
    if not integration.enabled:
        return pagerduty_error(403, "Event object is invalid", ["this integration is disabled"])
    try:
        # The dedup key PagerDuty would answer: the event's own, or the one IOC derives from it.
        dedup_key = pagerduty_source.parse(event, {})[0].fingerprint
        delivery_accept(
            integration=integration,
            body=request.body,
            content_type=request.META.get("CONTENT_TYPE", "") or "application/json",
            headers=request.headers,
        )
    except RateLimited as exc:
        response = JsonResponse(
            {
                "status": "throttle event",
                "message": "Requests for this service are arriving "
                "too quickly. Please retry later.",
                "errors": [str(exc)],
            },
            status=429,
        )
        response["Retry-After"] = str(exc.retry_after)
        return response
    except (BodyError, PayloadError) as exc:
        response = pagerduty_error(
            getattr(exc, "status", 400), "Event object is invalid", [str(exc)]
        )
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse(
        {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, status=202
    )


# --- Opsgenie alert API ---------------------------------------------------------------------------


def opsgenie_answer(started: float) -> JsonResponse:
    return JsonResponse(
        {
            "result": "Request will be processed",
            "took": round(time.monotonic() - started, 3),
            "requestId": str(uuid.uuid4()),
        },
        status=202,
    )


def opsgenie_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message, "took": 0.0}, status=status)


def _opsgenie_accept(request, *, body: bytes, headers) -> JsonResponse:
    started = time.monotonic()
    integration = integration_find_by_token(token=token_from_authorization(request.headers))
    try:
        integration = integration_usable(integration, unknown_status=401)
        if integration.kind != "opsgenie":
            raise BodyError(401, "the key does not belong to an opsgenie integration")
        delivery_accept(
            integration=integration,
            body=body,
            content_type=request.META.get("CONTENT_TYPE", "") or "application/json",
            headers=headers,
        )
    except RateLimited as exc:
        # Opsgenie's own answer over its rate limit: a 429 in its error shape.
        response = opsgenie_error(429, str(exc))
        response["Retry-After"] = str(exc.retry_after)
        return response
    except BodyError as exc:
        return opsgenie_error(exc.status, str(exc))
    return opsgenie_answer(started)


@webhook
def opsgenie_create(request):
    """POST /v2/alerts with `Authorization: GenieKey <integration token>`."""
    return _opsgenie_accept(request, body=request.body, headers=request.headers)


@webhook
def opsgenie_action(request, identifier: str, action: str):
    """POST /v2/alerts/<alias>/close|acknowledge?identifierType=alias."""
    if request.GET.get("identifierType", "id") != "alias":
        return opsgenie_error(400, "IOC identifies alerts by alias: add ?identifierType=alias")
    # The call is stored as a delivery like any other: the action and alias travel as headers.
    # The body is decoded and checked by accept's payload_check, as for a create.
    body = request.body if request.body.strip() else b"{}"
    # Case-insensitive like request.headers: an integration's hmac_header may be in any case.
    headers = CaseInsensitiveMapping(
        {
            **request.headers,
            opsgenie_source.ACTION_HEADER: action,
            opsgenie_source.ALIAS_HEADER: identifier,
        }
    )
    if not request.META.get("CONTENT_TYPE"):
        request.META["CONTENT_TYPE"] = "application/json"
    return _opsgenie_accept(request, body=body, headers=headers)


@require_POST
def alert_split_view(request, pk: int):
    """The incident page's "Split out" button: answers the new incident's fragment."""
    from django.http import Http404, HttpResponse
    from django.shortcuts import render

    from incidents.selectors import incident_detail_context, incident_user_may_act
    from incidents.transitions import WorkflowRefused

    from .selectors import alert_list_for_user
    from .services import alert_split

    alert = alert_list_for_user(user=request.user).filter(pk=pk).select_related("incident").first()
    if alert is None:
        raise Http404("No such alert")
    if alert.incident and not incident_user_may_act(user=request.user, incident=alert.incident):
        return HttpResponse("You may not act on this incident.", status=403)
    try:
        incident = alert_split(alert_id=alert.pk, actor=request.user, via="web")
    except WorkflowRefused as exc:
        return HttpResponse(str(exc), status=409)
    response = render(
        request,
        "incidents/_incident_live.html",
        incident_detail_context(incident=incident, user=request.user),
    )
    # The page now shows the new incident: put its address in the browser's bar.
    response["HX-Push-Url"] = f"/incidents/{incident.pk}/"
    return response
