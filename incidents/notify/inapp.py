"""In-app notifications: a message to the user's own channel group, for their open browsers.

The consumer that joins `user.<id>` handles events of type `notify.user` (`notify_user`). Nobody
connected is not a failure: the page is on the incident either way, and the other channels are
what reach a person who is away from the screen.

Call it from synchronous code (a task, the engine's loop), as everything here is.
"""

from ..broadcast import group_for_user, send_to_user
from .base import Message, Transport, TransportError, one_line

EVENT_TYPE = "notify.user"
__all__ = ["EVENT_TYPE", "InAppTransport", "event", "group_for_user"]


def event(message: Message) -> dict:
    """The channel-layer event: plain values only (the Redis layer serialises with msgpack)."""
    return {
        "type": EVENT_TYPE,
        "key": message.key,
        "subject": message.subject,
        "text": message.text,
        "incident_id": message.incident_id,
        "incident_number": message.incident_number,
        "incident_url": message.incident_url,
        "severity": message.severity,
        "title": message.title,
        "status": message.status,
    }


class InAppTransport(Transport):
    channel = "in_app"

    def notify(self, message: Message) -> str | None:
        address = str(message.address)
        if not address.isascii() or not address.isdigit():
            raise TransportError("an in-app address is a user id", permanent=True)
        try:
            send_to_user(int(address), event(message))
        except Exception as exc:
            # Redis away or the layer unhappy: the next attempt may well get through.
            raise TransportError(
                "the channel layer refused the message: "
                f"{one_line(str(exc)) or type(exc).__name__}",
                permanent=False,
            ) from exc
        return None
