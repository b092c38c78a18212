"""The one place that talks to the channel layer.

A push says only "incident N changed"; each connected browser's consumer renders what its user may
see. Pushes are coalesced per incident: at most one per IOC_BROADCAST_INTERVAL, with a trailing
push so the last change is never missed. A storm of a thousand alerts on one incident costs the
browsers one message a second.
"""

import logging
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)


def group_for_team(team_id: int) -> str:
    return f"team.{team_id}"


def group_for_incident(incident_id: int) -> str:
    return f"incident.{incident_id}"


def group_for_user(user_id: int | str) -> str:
    return f"user.{user_id}"


def send_to_user(user_id: int, event: dict) -> None:
    """An event for one person's open browsers (in-app notifications). Raises when the channel
    layer refuses it, so the sender can retry."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    async_to_sync(layer.group_send)(group_for_user(user_id), event)


def _send_now(incident_id: int, team_ids: set[int]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "incident.changed", "incident_id": incident_id}
    try:
        # Every team that saw a change (both sides of a hand-off), then the incident's own page.
        for team_id in sorted(team_ids):
            async_to_sync(layer.group_send)(group_for_team(team_id), message)
        async_to_sync(layer.group_send)(group_for_incident(incident_id), message)
    except Exception:
        # A live push is a convenience: the board reloads state on reconnect. Never fail the work.
        log.warning("live push for incident %s failed", incident_id, exc_info=True)


class Coalescer:
    def __init__(self, interval: float):
        self.interval = interval
        self.lock = threading.Lock()
        self.last_sent: dict[int, float] = {}
        # incident id -> the teams to tell in the pending trailing push
        self.scheduled: dict[int, set[int]] = {}

    def push(self, incident_id: int, team_id: int) -> None:
        with self.lock:
            if incident_id in self.scheduled:
                self.scheduled[incident_id].add(team_id)
                return
            wait = self.last_sent.get(incident_id, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                self.scheduled[incident_id] = {team_id}
                timer = threading.Timer(wait, self._trailing, args=(incident_id,))
                timer.daemon = True
                timer.start()
                return
            self.last_sent[incident_id] = time.monotonic()
            self._forget_old()
        _send_now(incident_id, {team_id})

    def _trailing(self, incident_id: int) -> None:
        with self.lock:
            team_ids = self.scheduled.pop(incident_id)
            self.last_sent[incident_id] = time.monotonic()
        _send_now(incident_id, team_ids)

    def _forget_old(self) -> None:
        if len(self.last_sent) > 10_000:
            horizon = time.monotonic() - self.interval
            self.last_sent = {k: v for k, v in self.last_sent.items() if v > horizon}


_coalescer = Coalescer(settings.IOC_BROADCAST_INTERVAL)


def incident_changed_on_commit(*, incident_id: int, team_id: int) -> None:
    """Tell open browsers about a change once the transaction that made it has committed."""
    transaction.on_commit(lambda: _coalescer.push(incident_id, team_id))
