"""Refuse oversized webhook bodies before they are read into memory.

Django's ASGI handler reads the whole request body before a view runs. For the webhook paths this
wrapper reads it first, counting bytes, and answers 413 as soon as the limit is passed, whether or
not the client sent a Content-Length. Everything else passes through untouched.
"""

import json

from django.conf import settings

WEBHOOK_PREFIXES = ("/integrations/", "/v2/")


async def send_json_error(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def replay(body: bytes, receive):
    """An ASGI `receive` that first gives the body already read, whole, then defers to `receive`
    (for the disconnect)."""
    sent = False

    async def receive_again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


class WebhookBodyLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(WEBHOOK_PREFIXES):
            return await self.app(scope, receive, send)
        limit = settings.IOC_WEBHOOK_MAX_BYTES
        too_big = f"body larger than {limit} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await send_json_error(send, 400, "invalid Content-Length")
                if declared > limit:
                    return await send_json_error(send, 413, too_big)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await send_json_error(send, 413, too_big)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return await self.app(scope, replay(b"".join(chunks), receive), send)
