"""Webhook endpoints. Thin: find the integration, hand the body to ingest, answer JSON."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .accept import delivery_accept, integration_find_by_token
from .payloads import BodyError


def json_error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


@csrf_exempt
@login_not_required
@require_POST
def integration_webhook(request, token: str):
    integration = integration_find_by_token(token=token)
    if integration is None:
        return json_error(404, "unknown integration token")
    if not integration.enabled:
        return json_error(403, "this integration is disabled")
    try:
        event = delivery_accept(
            integration=integration,
            body=request.body,
            content_type=request.META.get("CONTENT_TYPE", ""),
            headers=request.headers,
        )
    except BodyError as exc:
        extra = {"field": exc.field} if exc.field else {}
        return json_error(exc.status, str(exc), **extra)
    return JsonResponse({"status": "accepted", "delivery_id": event.pk}, status=202)
