"""Per-integration rate limit on webhook deliveries: a fixed one-minute window.

With Redis the count is shared by every web replica; without it (embedded mode) it lives in the one
process. It fails open: when Redis is down or slow, deliveries are accepted, because refusing
alerts during an outage is worse than accepting a few too many.
"""

import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
# After a Redis failure, deliveries are accepted without asking it for this long (as
# ioc.background pauses Celery kicks): a Redis that hangs rather than refuses costs every call its
# socket timeout, and the fast path counts a whole group of deliveries one call after another.
REDIS_PAUSE_SECONDS = 5.0

_redis_client = None
_redis_paused_until = 0.0
_local_counts: dict[tuple[int, int], int] = {}
_local_lock = threading.Lock()


def _redis():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.1, socket_connect_timeout=0.1
        )
    return _redis_client


def _count(integration_id: int, window: int) -> int:
    if settings.REDIS_URL:
        key = f"ioc:ratelimit:{integration_id}:{window}"
        pipe = _redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS * 2)
        return int(pipe.execute()[0])
    with _local_lock:
        if len(_local_counts) > 10_000:
            _local_counts.clear()
        count = _local_counts.get((integration_id, window), 0) + 1
        _local_counts[(integration_id, window)] = count
        return count


def rate_limit_retry_after(*, integration_id: int, limit_per_minute: int) -> int | None:
    """Count one delivery; the seconds to wait when over the limit, else None."""
    global _redis_paused_until
    if time.monotonic() < _redis_paused_until:
        return None  # Redis failed moments ago: don't make every delivery wait for it again
    limit = limit_per_minute or settings.IOC_WEBHOOK_RATE_LIMIT_PER_MINUTE
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    try:
        count = _count(integration_id, window)
    except Exception:
        _redis_paused_until = time.monotonic() + REDIS_PAUSE_SECONDS
        log.warning(
            "rate limit unavailable (Redis down?); accepting without it for %.0f s",
            REDIS_PAUSE_SECONDS,
        )
        return None
    if count <= limit:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
