"""`deliver`: one attempt over the message's channel, and never an exception."""

import pytest

from incidents.notify import TRANSPORTS, Channel, Message, deliver
from incidents.notify.webhook import SlackTransport
from tests.incidents.test_notify_sinks import http_sink_fixture, no_internet_fixture  # noqa: F401


def test_it_has_a_transport_for_every_channel():
    assert set(TRANSPORTS) == {c.value for c in Channel}
    assert {t.channel for t in TRANSPORTS.values()} == {c.value for c in Channel}


def test_it_dispatches_by_channel(http_sink):
    deliver(Message(key="k-1", channel="slack", address=http_sink.url, title="Down"))
    deliver(Message(key="k-2", channel="teams", address=http_sink.url, title="Down"))

    assert "blocks" in http_sink.requests[0].json()
    assert http_sink.requests[1].json()["type"] == "message"


def test_it_fails_for_good_on_an_unknown_channel():
    result = deliver(Message(key="k-1", channel="pigeon", address="loft 3"))

    assert (result.ok, result.permanent) == (False, True)
    assert result.error == "unknown channel 'pigeon'"


def test_it_turns_a_crash_into_a_transient_result(monkeypatch, caplog):
    def crash(self, message):
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr(SlackTransport, "notify", crash)

    result = deliver(Message(key="k-1", channel="slack", address="http://127.0.0.1:9/"))

    assert (result.ok, result.permanent) == (False, False)
    assert result.error == "internal error: ZeroDivisionError"
    assert "crashed" in caplog.text


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_it_never_raises_whatever_the_address(channel, settings):
    settings.IOC_SMS_ACCOUNT_SID = "AC1"
    settings.IOC_SMS_AUTH_TOKEN = "t"
    settings.IOC_SMS_FROM = "+15550001111"
    settings.IOC_SMS_PROVIDER_URL = "http://127.0.0.1:9"

    for address in ["", "\x00", "http://[::1", "+1" * 40, "a@b@c", "é" * 300]:
        result = deliver(Message(key="k-1", channel=channel, address=address))
        assert not result.ok
        assert not result.error.startswith("internal error"), (address, result.error)


def test_it_contacts_nothing_beyond_loopback(no_internet, settings):
    # Were an address ever left pointing at a real service, the guard would catch it here.
    settings.IOC_SMS_ACCOUNT_SID = "AC1"
    settings.IOC_SMS_AUTH_TOKEN = "t"
    settings.IOC_SMS_FROM = "+15550001111"
    settings.IOC_SMS_PROVIDER_URL = "https://api.twilio.com"

    slack = deliver(Message(key="k-1", channel="slack", address="https://hooks.slack.com/x"))
    sms = deliver(Message(key="k-2", channel="sms", address="+15551234567", text="hi"))

    assert (slack.ok, slack.permanent, sms.ok, sms.permanent) == (False, False, False, False)
    assert no_internet == ["hooks.slack.com", "api.twilio.com"]
