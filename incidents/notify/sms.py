"""SMS and voice calls through a provider.

The transports know what to say; the provider knows how to get it to a phone. The one provider
is Twilio's REST API (or anything that speaks it: the base URL is a setting), over the shared
HTTP client, so retries and classification are the same as for every other HTTP integration.
"""

import json
import re
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from django.conf import settings

from .base import (
    HttpClient,
    HttpResponse,
    Message,
    Transport,
    TransportError,
    basic_auth,
    headline,
    one_line,
)

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# Twilio refuses a longer SMS body (error 21617) and a longer Twiml parameter.
SMS_LIMIT = 1600
SAY_LIMIT = 1000
_URL = re.compile(r"https?://\S+")


class SmsProvider:
    """Gets a text or a spoken message to a phone; returns the provider's id for it."""

    def send_sms(self, *, key: str, to: str, body: str) -> str | None:
        raise NotImplementedError

    def call(self, *, key: str, to: str, say: str) -> str | None:
        raise NotImplementedError


class TwilioProvider(HttpClient, SmsProvider):
    """Twilio's REST API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` and `Calls.json`,
    form-encoded, with HTTP basic auth (account SID and auth token)."""

    label = "SMS provider"

    def __init__(self, *, base_url: str, account_sid: str, auth_token: str, from_number: str):
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number

    @classmethod
    def from_settings(cls) -> "TwilioProvider":
        missing = [
            name
            for name in ("IOC_SMS_ACCOUNT_SID", "IOC_SMS_AUTH_TOKEN", "IOC_SMS_FROM")
            if not getattr(settings, name, "")
        ]
        if missing:
            raise TransportError(
                f"SMS and voice are not configured: set {', '.join(missing)}", permanent=True
            )
        return cls(
            base_url=settings.IOC_SMS_PROVIDER_URL,
            account_sid=settings.IOC_SMS_ACCOUNT_SID,
            auth_token=settings.IOC_SMS_AUTH_TOKEN,
            from_number=settings.IOC_SMS_FROM,
        )

    def send_sms(self, *, key: str, to: str, body: str) -> str | None:
        return self._create("Messages.json", key=key, fields={"Body": body}, to=to)

    def call(self, *, key: str, to: str, say: str) -> str | None:
        twiml = f"<Response><Say>{escape(say)}</Say></Response>"
        return self._create("Calls.json", key=key, fields={"Twiml": twiml}, to=to)

    def _create(self, resource: str, *, key: str, fields: dict[str, str], to: str) -> str | None:
        url = f"{self.base_url}/2010-04-01/Accounts/{quote(self.account_sid, safe='')}/{resource}"
        form = {"To": to, "From": self.from_number, **fields}
        response = self.post(
            url,
            key=key,
            body=urlencode(form).encode("ascii"),
            content_type="application/x-www-form-urlencoded",
            headers={"Authorization": basic_auth(self.account_sid, self.auth_token)},
        )
        sid = _json(response).get("sid")
        return sid if isinstance(sid, str) else None

    def error_message(self, response: HttpResponse) -> str:
        # Twilio explains itself in JSON: {"code": 21211, "message": "Invalid 'To' number", ...}
        detail = _json(response)
        if isinstance(detail.get("message"), str):
            code = f" (error {detail['code']})" if detail.get("code") else ""
            return (
                f"the {self.label} answered HTTP {response.status}: "
                f"{one_line(detail['message'])}{code}"
            )
        return super().error_message(response)


def sms_provider() -> SmsProvider:
    """The configured provider. One today; a second one would be chosen here by a setting."""
    return TwilioProvider.from_settings()


def _json(response: HttpResponse) -> dict:
    try:
        data = json.loads(response.body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _check_phone(address: str) -> None:
    if not E164.fullmatch(address):
        raise TransportError("not an E.164 phone number (like +15551234567)", permanent=True)


def sms_text(message: Message) -> str:
    """The text, with the incident's link when the text lacks it, within one provider message."""
    text = " ".join(message.text.split()) or f"[IOC] {headline(message)}"
    link = message.incident_url if message.incident_url not in text else ""
    room = SMS_LIMIT - (len(link) + 1 if link else 0)
    if len(text) > room:
        text = text[: room - 1] + "…"
    return f"{text} {link}" if link else text


def voice_script(message: Message) -> str:
    """What the call says: the text without its links (nobody can click a spoken URL)."""
    text = " ".join(_URL.sub("", message.text).split())
    if not text:
        number = "" if message.incident_number is None else str(message.incident_number)
        what = " ".join(part for part in (message.severity, "incident", number) if part)
        title = one_line(message.title, 300)
        text = f"This is IOC. {what}: {title}." if title else f"This is IOC. {what}."
    return text[:SAY_LIMIT]


class SmsTransport(Transport):
    channel = "sms"

    def notify(self, message: Message) -> str | None:
        _check_phone(message.address)
        return sms_provider().send_sms(key=message.key, to=message.address, body=sms_text(message))


class VoiceTransport(Transport):
    channel = "voice"

    def notify(self, message: Message) -> str | None:
        _check_phone(message.address)
        return sms_provider().call(key=message.key, to=message.address, say=voice_script(message))
