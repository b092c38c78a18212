"""Heartbeat pings: any JSON object, even `{}`, posted to a heartbeat integration's URL.

A ping means "still alive": it resolves the integration's "HeartbeatMissed" alert if one is
open (the fingerprint is always "heartbeat") and otherwise changes nothing. Silence is noticed by
the sweep (alerts/heartbeat.py), not here: a parser only ever sees what arrived.
"""

from collections.abc import Mapping
from typing import Any

from .base import ParsedAlert, PayloadError

CONTENT_TYPES = ("application/json",)

FINGERPRINT = "heartbeat"


def validate(payload: Any, *, config=None) -> None:
    if not isinstance(payload, Mapping):
        raise PayloadError("a heartbeat ping must be a JSON object, for example {}")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    validate(payload)
    # No source times: a ping is "now", and a resolve without times always applies.
    return [
        ParsedAlert(
            fingerprint=FINGERPRINT,
            name="HeartbeatMissed",
            summary="Heartbeat received",
            status="resolved",
        )
    ]
