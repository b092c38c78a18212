"""Heartbeat integrations: a job or host pings its webhook; silence longer than its period fires
an alert, and the next ping resolves it.

A ping is any delivery to the integration (alerts/sources/heartbeat.py parses it into a resolve
of the fingerprint "heartbeat"); processing it records `Integration.last_ping_at`. The sweep
calls `heartbeats_check`, which fires "HeartbeatMissed" through the ordinary alert path, so it
opens an incident for the integration's team like any other alert.

Config (`Integration.config`): `period_seconds` (default 300), `grace_seconds` (default 0),
`severity` (default high) and `service` (default none).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Alert, InboundEvent, Integration
from .sources.base import SEVERITIES, ParsedAlert
from .sources.heartbeat import FINGERPRINT

ALERT_NAME = "HeartbeatMissed"
DEFAULT_PERIOD_SECONDS = 300
DEFAULT_SEVERITY = "high"


@dataclass(frozen=True)
class HeartbeatConfig:
    period: timedelta = timedelta(seconds=DEFAULT_PERIOD_SECONDS)
    grace: timedelta = timedelta(0)
    severity: str = DEFAULT_SEVERITY
    service: str = ""


# --- policy (pure) --------------------------------------------------------------------------------


def heartbeat_config(config: Mapping[str, Any] | None) -> HeartbeatConfig:
    """The integration's heartbeat options; a missing or unusable value takes its default, so a
    typo in the config never silences the check."""
    config = config if isinstance(config, Mapping) else {}
    severity = config.get("severity")
    service = config.get("service")
    return HeartbeatConfig(
        period=timedelta(
            seconds=_seconds(config.get("period_seconds"), DEFAULT_PERIOD_SECONDS, positive=True)
        ),
        grace=timedelta(seconds=_seconds(config.get("grace_seconds"), 0)),
        severity=severity if severity in SEVERITIES else DEFAULT_SEVERITY,
        service=service[:200] if isinstance(service, str) else "",
    )


def _seconds(value: Any, default: int, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if value < 0 or (positive and value == 0):
        return default
    return float(value)


def heartbeat_overdue(*, last_seen: datetime, now: datetime, config: HeartbeatConfig) -> bool:
    """Quiet for longer than its period and grace."""
    return now - last_seen > config.period + config.grace


def heartbeat_missed_alert(
    *, integration_name: str, last_seen: datetime, now: datetime, config: HeartbeatConfig
) -> ParsedAlert:
    minutes = int((now - last_seen).total_seconds() // 60)
    return ParsedAlert(
        fingerprint=FINGERPRINT,
        name=ALERT_NAME,
        summary=f"No heartbeat from {integration_name} for {minutes} minutes",
        description=(
            f"Expected a ping at least every {int(config.period.total_seconds())} s "
            f"(grace {int(config.grace.total_seconds())} s); the last one was at "
            f"{last_seen.isoformat(timespec='seconds')}."
        ),
        severity=config.severity,
        service=config.service,
        source=integration_name,
        started_at=now,
    )


# --- services -------------------------------------------------------------------------------------


def heartbeat_record_ping(*, integration: Integration, at: datetime) -> None:
    """Remember the ping, never moving the time back (a late, older delivery changes nothing)."""
    Integration.objects.filter(pk=integration.pk).filter(
        Q(last_ping_at__isnull=True) | Q(last_ping_at__lt=at)
    ).update(last_ping_at=at)


def heartbeats_check(*, now: datetime | None = None) -> int:
    """Fire "HeartbeatMissed" for each enabled heartbeat integration that has gone quiet, once:
    not while its previous one is still open. Returns how many fired."""
    # Imported here: ingest imports this module to record pings, and this part builds on it.
    from .batch import processing_turn
    from .ingest import alert_apply

    now = now or timezone.now()
    fired = 0
    candidates = Integration.objects.filter(kind=Integration.Kind.HEARTBEAT, enabled=True)
    for candidate in candidates.only("pk", "config", "last_ping_at", "created_at"):
        config = heartbeat_config(candidate.config)
        if not heartbeat_overdue(last_seen=_last_seen(candidate), now=now, config=config):
            continue
        with transaction.atomic():
            # Processing's turn first (it may be recording a ping, which locks the row below).
            processing_turn()
            # The row lock makes two sweeps take turns; a ping being processed holds it too,
            # and then this one is skipped: the ping answers the question.
            integration = (
                Integration.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("team")
                .filter(pk=candidate.pk, enabled=True)
                .first()
            )
            if integration is None:
                continue
            last_seen = _last_seen(integration)
            if not heartbeat_overdue(last_seen=last_seen, now=now, config=config):
                continue
            missed = (
                Alert.objects.filter(integration=integration, fingerprint=FINGERPRINT)
                .exclude(status=Alert.Status.RESOLVED)
                .exists()
            )
            if missed:
                continue
            parsed = heartbeat_missed_alert(
                integration_name=integration.name, last_seen=last_seen, now=now, config=config
            )
            alert_apply(integration=integration, parsed=parsed, at=now)
            fired += 1
    return fired


def _last_seen(integration: Integration) -> datetime:
    """The last ping, counting one accepted but not yet processed: if processing lags (Redis
    down, a worker restarting), a job that did ping must not be reported silent."""
    pending = (
        InboundEvent.objects.filter(integration=integration, status=InboundEvent.Status.PENDING)
        .order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    seen = [t for t in (integration.last_ping_at, pending) if t is not None]
    return max(seen) if seen else integration.created_at
