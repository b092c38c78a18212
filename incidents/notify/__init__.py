"""Delivery of notifications: one transport per channel, and `deliver`, which never raises.

The escalation engine decides who hears what and when; it builds a `Message` with the same
idempotency key for every attempt, calls `deliver`, and with the `DeliveryResult` either marks
the notification sent, records a permanent failure, or sets the next attempt time with
`retry_delay` while `should_retry` allows. Nothing here touches the database or sleeps.
"""

import logging

from .base import (
    Channel,
    DeliveryResult,
    Message,
    Transport,
    TransportError,
    check_key,
    retry_delay,
    should_retry,
)
from .email import EmailTransport
from .inapp import InAppTransport
from .sms import SmsTransport, VoiceTransport
from .webhook import SlackTransport, TeamsTransport, WebhookTransport

log = logging.getLogger(__name__)

TRANSPORTS: dict[str, type[Transport]] = {
    Channel.EMAIL: EmailTransport,
    Channel.SMS: SmsTransport,
    Channel.VOICE: VoiceTransport,
    Channel.SLACK: SlackTransport,
    Channel.TEAMS: TeamsTransport,
    Channel.WEBHOOK: WebhookTransport,
    Channel.IN_APP: InAppTransport,
}


def transport_for(channel: str) -> Transport:
    try:
        return TRANSPORTS[channel]()
    except KeyError:
        raise TransportError(f"unknown channel {channel!r}", permanent=True) from None


def deliver(message: Message) -> DeliveryResult:
    """Make one attempt at sending `message`. Never raises: every failure is a result."""
    try:
        check_key(message.key)
        provider_id = transport_for(message.channel).notify(message)
    except TransportError as exc:
        log.warning(
            "notification %s over %s failed (%s): %s",
            message.key,
            message.channel,
            "permanent" if exc.permanent else "will retry",
            exc.message,
        )
        return DeliveryResult(
            ok=False,
            permanent=exc.permanent,
            error=exc.message,
            status_code=exc.status_code,
            retry_after=exc.retry_after,
        )
    except Exception as exc:
        # A bug of ours, most likely: logged in full, retried like any transient failure (the
        # attempt cap still ends it), and never allowed to break the engine's loop.
        log.exception("notification %s over %s crashed", message.key, message.channel)
        return DeliveryResult(
            ok=False, permanent=False, error=f"internal error: {type(exc).__name__}"
        )
    return DeliveryResult(ok=True, provider_id=provider_id)


__all__ = [
    "TRANSPORTS",
    "Channel",
    "DeliveryResult",
    "Message",
    "Transport",
    "TransportError",
    "deliver",
    "retry_delay",
    "should_retry",
    "transport_for",
]
