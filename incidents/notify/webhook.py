"""Chat and webhook transports: Slack incoming webhooks, Microsoft Teams (Workflows) webhooks and
a generic JSON webhook. Each one only shapes its body; the HTTP client does the rest."""

import dataclasses
import json

from .base import HttpResponse, HttpTransport, Message, headline, one_line

JSON = "application/json; charset=utf-8"
# Slack refuses a section text over 3,000 characters; Teams cards have a similar budget.
TEXT_LIMIT = 3000


def _json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


class JsonTransport(HttpTransport):
    """Posts one JSON document to the message's address; each subclass only shapes the document
    (`payload`)."""

    def notify(self, message: Message) -> str | None:
        self.post(
            message.address, key=message.key, body=_json(self.payload(message)), content_type=JSON
        )
        return None

    def payload(self, message: Message) -> dict:
        raise NotImplementedError


class SlackTransport(JsonTransport):
    """Posts to a Slack incoming webhook: a fallback `text` plus one section block."""

    channel = "slack"
    label = "Slack webhook"

    def payload(self, message: Message) -> dict:
        return slack_body(message)


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads <...> as links and mentions; a title must not ping @channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: Message) -> dict:
    title = _slack_escape(headline(message))
    if message.incident_url:
        title = f"<{message.incident_url}|{title}>"
    lines = [f"*{title}*"]
    facts = [
        f"*{name}:* {_slack_escape(value)}"
        for name, value in (("Severity", message.severity), ("Status", message.status))
        if value
    ]
    if facts:
        lines.append("   ".join(facts))
    if message.text:
        lines.append(_slack_escape(message.text))
    section: dict = {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines))}}
    if message.incident_url:
        section["accessory"] = {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open incident"},
            "url": message.incident_url,
        }
    fallback = " — ".join(part for part in (headline(message), one_line(message.text, 500)) if part)
    return {"text": _clip(_slack_escape(fallback)), "blocks": [section]}


class TeamsTransport(JsonTransport):
    """Posts an Adaptive Card, wrapped as a message, to a Teams Workflows webhook.

    Workflows ("Post to a channel when a webhook request is received") replace the retired
    Office 365 connectors and accept only Adaptive Cards; they answer 202 Accepted.
    """

    channel = "teams"
    label = "Teams webhook"

    def payload(self, message: Message) -> dict:
        return teams_body(message)


def teams_body(message: Message) -> dict:
    body: list[dict] = [
        {
            "type": "TextBlock",
            "text": headline(message),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": _clip(message.text), "wrap": True})
    facts = [
        {"title": name, "value": value}
        for name, value in (("Severity", message.severity), ("Status", message.status))
        if value
    ]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.incident_url:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open incident", "url": message.incident_url}
        ]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


class WebhookTransport(JsonTransport):
    """Posts the message itself as JSON, for receivers of one's own making."""

    channel = "webhook"
    label = "webhook"

    def payload(self, message: Message) -> dict:
        return webhook_body(message)

    def is_permanent(self, response: HttpResponse) -> bool:
        # 409: the receiver is still working on a request with this idempotency key (the
        # Idempotency-Key draft); asking again later gets its answer.
        return response.status != 409 and super().is_permanent(response)


def webhook_body(message: Message) -> dict:
    # The address is left out: it is the URL being called, and may hold that receiver's secret.
    return {name: value for name, value in dataclasses.asdict(message).items() if name != "address"}
