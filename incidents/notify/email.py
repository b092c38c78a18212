"""Email through Django's email backend (the EMAIL_* settings).

The idempotency key becomes the Message-ID, so a mail system that got the first try after all
can drop the repeat. SMTP says itself what is permanent: a 5xx reply is, a 4xx reply, a dropped
connection or a timeout is not.
"""

import hashlib
import re
import smtplib

from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMessage
from django.core.validators import validate_email

from .base import Message, Transport, TransportError, check_key, headline, one_line

MESSAGE_ID_DOMAIN = "ioc"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def message_id(key: str) -> str:
    """`<{key}@ioc>`, with characters a Message-ID cannot hold replaced.

    When anything had to be replaced a short hash of the real key is added, so two keys that
    differ only in those characters never share a Message-ID (a receiver would drop one).
    """
    local = _UNSAFE.sub("-", key)
    local = re.sub(r"\.{2,}", ".", local).strip(".") or "key"
    if local != key:
        local = f"{local}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    return f"<{local}@{MESSAGE_ID_DOMAIN}>"


def subject(message: Message) -> str:
    """The message's subject, else `[IOC] SEV2 #42: Database down`; always one line."""
    return one_line(message.subject or f"[IOC] {headline(message)}", 250)


def body(message: Message) -> str:
    lines = [message.text.strip(), ""] if message.text.strip() else []
    lines.append(headline(message))
    facts = [
        f"{name}: {value}"
        for name, value in (("Severity", message.severity), ("Status", message.status))
        if value
    ]
    if facts:
        lines.append("   ".join(facts))
    if message.incident_url:
        lines.append(message.incident_url)
    return "\n".join(lines) + "\n"


class EmailTransport(Transport):
    channel = "email"

    def notify(self, message: Message) -> str | None:
        check_key(message.key)
        try:
            validate_email(message.address)
        except ValidationError as exc:
            raise TransportError("not a valid email address", permanent=True) from exc
        msgid = message_id(message.key)
        headers = {
            "Message-ID": msgid,
            # RFC 3834: tells vacation responders not to answer a page.
            "Auto-Submitted": "auto-generated",
        }
        if message.incident_number is not None:
            headers["X-IOC-Incident"] = str(message.incident_number)
        email = EmailMessage(
            subject=subject(message), body=body(message), to=[message.address], headers=headers
        )
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(
                f"the mail server refused the recipient: {_replies(exc.recipients.values())}",
                permanent=bool(codes) and all(500 <= code < 600 for code in codes),
                status_code=codes[0] if codes else None,
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # Sender refused, data refused, HELO, authentication, or a 421 on connect.
            raise TransportError(
                f"the mail server answered {_replies([(exc.smtp_code, exc.smtp_error)])}",
                permanent=500 <= exc.smtp_code < 600,
                status_code=exc.smtp_code,
            ) from exc
        except BadHeaderError as exc:
            raise TransportError(f"the email cannot be built: {exc}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Refused or dropped connection, timeout, TLS trouble: the server may be back soon.
            raise TransportError(
                f"could not reach the mail server: {one_line(str(exc)) or type(exc).__name__}",
                permanent=False,
            ) from exc
        return msgid


def _replies(replies) -> str:
    parts = []
    for code, text in replies:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        parts.append(f"{code} {one_line(str(text), 150)}")
    return "; ".join(parts)
