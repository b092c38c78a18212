"""AWS SNS: signature verification at accept, and subscription confirmation during processing.

(Stub: to be implemented.)
"""

from collections.abc import Mapping
from typing import Any


class SignatureError(ValueError):
    """The SNS envelope is not signed by AWS (or its signature cannot be checked)."""


def sns_verify(envelope: Mapping[str, Any]) -> None:
    """Raise SignatureError unless the envelope carries a valid SNS signature."""


def sns_confirm_subscription(*, subscribe_url: str) -> dict:
    """Confirm a subscription by fetching its SubscribeURL; returns what to record."""
    return {"confirmed": False, "error": "not implemented"}
