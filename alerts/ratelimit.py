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

_redis_client = None
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
    limit = limit_per_minute or settings.IOC_WEBHOOK_RATE_LIMIT_PER_MINUTE
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    try:
        count = _count(integration_id, window)
    except Exception:
        log.warning("rate limit unavailable (Redis down?); accepting", exc_info=False)
        return None
    if count <= limit:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
