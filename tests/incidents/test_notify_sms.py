"""SMS and voice through the Twilio-style HTTP provider."""

import base64
from urllib.parse import unquote

import pytest

from incidents.notify import Message, deliver
from tests.incidents.test_notify_sinks import Reply, http_sink_fixture, no_internet_fixture  # noqa: F401

SID = "AC0123456789abcdef"


@pytest.fixture
def twilio(http_sink, settings):
    settings.IOC_SMS_PROVIDER_URL = http_sink.url + "/"
    settings.IOC_SMS_ACCOUNT_SID = SID
    settings.IOC_SMS_AUTH_TOKEN = "auth-token"
    settings.IOC_SMS_FROM = "+15550001111"
    return http_sink


def message(channel: str = "sms", **fields) -> Message:
    values = {
        "key": "ntf-9-1",
        "channel": channel,
        "address": "+447700900123",
        "text": "SEV2 incident #42 for DBA: Database down https://ioc.example.org/incidents/7/",
        "incident_number": 42,
        "severity": "SEV2",
        "title": "Database down",
    }
    return Message(**(values | fields))


def test_it_sends_an_sms_as_a_twilio_message(twilio):
    twilio.answer(Reply(status=201, body=b'{"sid": "SM123", "status": "queued"}'))

    result = deliver(message())

    assert (result.ok, result.provider_id) == (True, "SM123")
    request = twilio.last
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        f"{SID}:auth-token".encode()
    ).decode("ascii")
    assert request.headers["idempotency-key"] == "ntf-9-1"
    assert request.form() == {
        "To": "+447700900123",
        "From": "+15550001111",
        "Body": "SEV2 incident #42 for DBA: Database down https://ioc.example.org/incidents/7/",
    }


def test_it_places_a_call_that_says_the_text_without_links(twilio):
    twilio.answer(Reply(status=201, body=b'{"sid": "CA456"}'))

    result = deliver(message("voice"))

    assert (result.ok, result.provider_id) == (True, "CA456")
    assert twilio.last.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert twilio.last.form() == {
        "To": "+447700900123",
        "From": "+15550001111",
        "Twiml": "<Response><Say>SEV2 incident #42 for DBA: Database down</Say></Response>",
    }


def test_it_escapes_the_spoken_text_as_xml(twilio):
    deliver(message("voice", text="disk <90% & rising"))

    assert twilio.last.form()["Twiml"] == (
        "<Response><Say>disk &lt;90% &amp; rising</Say></Response>"
    )


def test_it_builds_a_spoken_line_when_there_is_no_text(twilio):
    deliver(message("voice", text=""))

    assert twilio.last.form()["Twiml"] == (
        "<Response><Say>This is IOC. SEV2 incident 42: Database down.</Say></Response>"
    )


def test_it_adds_the_incident_link_to_an_sms_without_one(twilio):
    deliver(message(text="SEV2 incident #42: Database down", incident_url="https://ioc/i/7/"))

    assert twilio.last.form()["Body"] == "SEV2 incident #42: Database down https://ioc/i/7/"


def test_it_cuts_an_sms_to_what_the_provider_accepts_and_keeps_the_link(twilio):
    deliver(message(text="x" * 5000, incident_url="https://ioc/i/7/"))

    body = twilio.last.form()["Body"]
    assert len(body) == 1600
    assert body.endswith("x… https://ioc/i/7/")


def test_it_reports_the_providers_own_explanation(twilio):
    twilio.answer(
        Reply(
            status=400,
            body=b'{"code": 21211, "message": "Invalid \'To\' Phone Number", "status": 400}',
        )
    )

    result = deliver(message())

    assert (result.ok, result.permanent, result.status_code) == (False, True, 400)
    assert (
        result.error
        == "the SMS provider answered HTTP 400: Invalid 'To' Phone Number (error 21211)"
    )


def test_it_retries_when_the_provider_throttles(twilio):
    twilio.answer(
        Reply(
            status=429,
            body=b'{"code": 20429, "message": "Too Many Requests"}',
            headers={"Retry-After": "30"},
        )
    )

    result = deliver(message())

    assert (result.ok, result.permanent, result.retry_after) == (False, False, 30.0)


def test_it_refuses_a_number_that_is_not_e164(twilio):
    result = deliver(message(address="07700 900123"))

    assert (result.ok, result.permanent) == (False, True)
    assert twilio.requests == []


def test_it_fails_for_good_when_sms_is_not_configured(http_sink, settings):
    settings.IOC_SMS_PROVIDER_URL = http_sink.url
    settings.IOC_SMS_ACCOUNT_SID = ""
    settings.IOC_SMS_AUTH_TOKEN = ""
    settings.IOC_SMS_FROM = "+15550001111"

    result = deliver(message())

    assert (result.ok, result.permanent) == (False, True)
    assert result.error == (
        "SMS and voice are not configured: set IOC_SMS_ACCOUNT_SID, IOC_SMS_AUTH_TOKEN"
    )
    assert http_sink.requests == []


def test_it_quotes_an_account_sid_in_the_path(twilio, settings):
    settings.IOC_SMS_ACCOUNT_SID = "AC/../x"

    deliver(message())

    assert unquote(twilio.last.path) == "/2010-04-01/Accounts/AC/../x/Messages.json"
    assert twilio.last.path == "/2010-04-01/Accounts/AC%2F..%2Fx/Messages.json"
