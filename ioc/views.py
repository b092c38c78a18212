"""Project-level views: the health check."""

import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from alerts.selectors import deliveries_backlog
from incidents.selectors import escalation_sweeper_health


def _redis_status() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        client.ping()
    except Exception:
        return "down"
    return "ok"


@login_not_required
@require_GET
def healthz(request):
    """200 while the database answers. Background problems are reported in the body only, so a
    load balancer never drops a web replica over a worker problem."""
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "error", "database": "down"}, status=503)
    backlog = deliveries_backlog()
    body = {
        "status": "ok",
        "database": "ok",
        "redis": _redis_status(),
        "background": settings.IOC_BACKGROUND,
        "pending_deliveries": backlog.pending,
        "oldest_pending_seconds": backlog.oldest_seconds,
        "processing": "lagging" if backlog.oldest_seconds > 120 else "ok",
        **escalation_sweeper_health(),
        "took_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return JsonResponse(body)
