"""Retention: processed deliveries are deleted after IOC_RETENTION_PROCESSED_DAYS (7), failed
ones after IOC_RETENTION_FAILED_DAYS (30); 0 keeps them. Pending deliveries are never deleted,
and neither is anything else: alerts and incidents do not depend on their delivery rows.

Run by the sweep, in batches: one DELETE of a few thousand rows at a time, each its own short
transaction, so a large backlog never holds one long lock on the table the webhook writes to.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import InboundEvent

BATCH_SIZE = 5000


def deliveries_prune(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Delete the deliveries past their retention; returns how many were deleted."""
    now = now or timezone.now()
    deleted = 0
    for status, days in (
        (InboundEvent.Status.PROCESSED, settings.IOC_RETENTION_PROCESSED_DAYS),
        (InboundEvent.Status.FAILED, settings.IOC_RETENTION_FAILED_DAYS),
    ):
        if days > 0:
            deleted += _prune(status=status, before=now - timedelta(days=days), size=batch_size)
    return deleted


def _prune(*, status: str, before: datetime, size: int) -> int:
    # Aged by processed_at: a failed delivery retried later starts its retention again.
    expired = InboundEvent.objects.filter(status=status, processed_at__lt=before)
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(expired.order_by().values_list("pk", flat=True)[:size])
            if not ids:
                break
            # The status is checked again by the DELETE itself: a delivery put back to pending
            # for a retry since the SELECT is kept.
            count, _ = expired.filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < size:
            break
    return deleted
