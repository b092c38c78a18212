"""Email through Django's SMTP backend, against a local aiosmtpd server."""

import pytest

from incidents.notify import Message, deliver
from incidents.notify.email import message_id
from tests.incidents.test_notify_sinks import closed_port, no_internet_fixture, smtp_sink_fixture  # noqa: F401


def message(**fields) -> Message:
    values = {
        "key": "ntf-3-1",
        "channel": "email",
        "address": "alice@example.org",
        "text": "SEV2 incident #42 for DBA: Database down",
        "incident_number": 42,
        "incident_url": "https://ioc.example.org/incidents/7/",
        "severity": "SEV2",
        "title": "Database down",
        "status": "triggered",
    }
    return Message(**(values | fields))


def test_it_sends_a_mail_whose_message_id_is_the_key(smtp_sink, settings):
    settings.DEFAULT_FROM_EMAIL = "ioc@ioc.example.org"

    result = deliver(message())

    assert (result.ok, result.provider_id) == (True, "<ntf-3-1@ioc>")
    assert smtp_sink.envelopes == [("ioc@ioc.example.org", ["alice@example.org"])]
    mail = smtp_sink.messages[0]
    assert mail["Message-ID"] == "<ntf-3-1@ioc>"
    assert mail["Subject"] == "[IOC] SEV2 #42: Database down"
    assert mail["To"] == "alice@example.org"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-IOC-Incident"] == "42"
    assert mail.get_content().replace("\r\n", "\n") == (
        "SEV2 incident #42 for DBA: Database down\n"
        "\n"
        "SEV2 #42: Database down\n"
        "Severity: SEV2   Status: triggered\n"
        "https://ioc.example.org/incidents/7/\n"
    )


def test_it_sends_the_same_message_id_on_a_repeat(smtp_sink):
    deliver(message())
    deliver(message())

    assert [m["Message-ID"] for m in smtp_sink.messages] == ["<ntf-3-1@ioc>"] * 2


def test_it_uses_the_subject_it_is_given_on_one_line(smtp_sink):
    deliver(message(subject="[IOC] Resolved #42:\r\nBcc: everyone@example.org"))

    assert smtp_sink.messages[0]["Subject"] == "[IOC] Resolved #42: Bcc: everyone@example.org"
    assert smtp_sink.envelopes[0][1] == ["alice@example.org"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("ntf-3-1", "<ntf-3-1@ioc>"),
        ("ntf.3_1", "<ntf.3_1@ioc>"),
        ("incident:42/user:7", "<incident-42-user-7.{}@ioc>"),
        ("..a..b..", "<a.b.{}@ioc>"),
    ],
)
def test_it_makes_a_valid_message_id_from_any_key(key, expected):
    import hashlib

    assert message_id(key) == expected.format(hashlib.sha256(key.encode()).hexdigest()[:12])


def test_it_never_gives_two_keys_one_message_id():
    assert message_id("incident:42") != message_id("incident/42")
    assert message_id("incident-42") != message_id("incident:42")


def test_it_fails_for_good_when_the_server_refuses_the_recipient(smtp_sink):
    smtp_sink.rcpt_reply = "550 5.1.1 No such user"

    result = deliver(message())

    assert (result.ok, result.permanent, result.status_code) == (False, True, 550)
    assert result.error == "the mail server refused the recipient: 550 5.1.1 No such user"


def test_it_retries_when_the_server_defers_the_recipient(smtp_sink):
    smtp_sink.rcpt_reply = "451 4.7.1 Greylisted, try again"

    result = deliver(message())

    assert (result.ok, result.permanent, result.status_code) == (False, False, 451)


def test_it_fails_for_good_when_the_server_refuses_the_data(smtp_sink):
    smtp_sink.data_reply = "554 5.7.1 Message rejected"

    result = deliver(message())

    assert (result.ok, result.permanent, result.status_code) == (False, True, 554)
    assert result.error == "the mail server answered 554 5.7.1 Message rejected"


def test_it_retries_when_the_server_defers_the_data(smtp_sink):
    smtp_sink.data_reply = "452 4.3.1 Insufficient system storage"

    result = deliver(message())

    assert (result.ok, result.permanent, result.status_code) == (False, False, 452)


def test_it_retries_when_the_server_cannot_be_reached(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = closed_port()

    result = deliver(message())

    assert (result.ok, result.permanent) == (False, False)
    assert result.error.startswith("could not reach the mail server: ")


def test_it_refuses_an_address_that_is_not_an_email(smtp_sink):
    result = deliver(message(address="alice"))

    assert (result.ok, result.permanent) == (False, True)
    assert smtp_sink.messages == []
