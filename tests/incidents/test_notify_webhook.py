"""Slack, Microsoft Teams and generic webhooks: the body each one posts."""

from incidents.notify import Message, deliver, should_retry
from tests.incidents.test_notify_sinks import Reply, http_sink_fixture, no_internet_fixture  # noqa: F401

URL = "https://ioc.example.org/incidents/7/"


def message(channel: str, address: str, **fields) -> Message:
    values = {
        "key": "ntf-7-1",
        "channel": channel,
        "address": address,
        "subject": "[IOC] SEV2 #42: Database down",
        "text": "SEV2 incident #42 for DBA: Database down",
        "incident_number": 42,
        "incident_url": URL,
        "severity": "SEV2",
        "title": "Database down",
        "status": "triggered",
        "incident_id": 7,
    }
    return Message(**(values | fields))


def test_it_posts_a_slack_section_with_title_severity_status_and_link(http_sink):
    result = deliver(message("slack", http_sink.url + "/services/T0/B0/x"))

    assert result.ok
    assert http_sink.last.headers["idempotency-key"] == "ntf-7-1"
    assert http_sink.last.json() == {
        "text": "SEV2 #42: Database down — SEV2 incident #42 for DBA: Database down",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        f"*<{URL}|SEV2 #42: Database down>*\n"
                        "*Severity:* SEV2   *Status:* triggered\n"
                        "SEV2 incident #42 for DBA: Database down"
                    ),
                },
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open incident"},
                    "url": URL,
                },
            }
        ],
    }


def test_it_escapes_slack_markup_in_titles(http_sink):
    deliver(message("slack", http_sink.url, title="<!channel> & <https://evil|x>", text=""))

    section = http_sink.last.json()["blocks"][0]["text"]["text"]
    assert "<!channel>" not in section
    assert "&lt;!channel&gt; &amp; &lt;https://evil|x&gt;" in section
    assert "<!channel>" not in http_sink.last.json()["text"]


def test_it_keeps_slack_text_within_its_limit(http_sink):
    deliver(message("slack", http_sink.url, text="x" * 10_000))

    body = http_sink.last.json()
    assert len(body["text"]) <= 3000
    assert len(body["blocks"][0]["text"]["text"]) <= 3000


def test_it_posts_a_teams_adaptive_card(http_sink):
    http_sink.answer(202)

    result = deliver(message("teams", http_sink.url + "/workflows/abc"))

    assert result.ok
    assert http_sink.last.headers["idempotency-key"] == "ntf-7-1"
    assert http_sink.last.json() == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "SEV2 #42: Database down",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {
                            "type": "TextBlock",
                            "text": "SEV2 incident #42 for DBA: Database down",
                            "wrap": True,
                        },
                        {
                            "type": "FactSet",
                            "facts": [
                                {"title": "Severity", "value": "SEV2"},
                                {"title": "Status", "value": "triggered"},
                            ],
                        },
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open incident", "url": URL}],
                },
            }
        ],
    }


def test_it_posts_the_message_itself_to_a_generic_webhook(http_sink):
    deliver(message("webhook", http_sink.url + "/hook?secret=s3"))

    assert http_sink.last.json() == {
        "key": "ntf-7-1",
        "channel": "webhook",
        "subject": "[IOC] SEV2 #42: Database down",
        "text": "SEV2 incident #42 for DBA: Database down",
        "incident_number": 42,
        "incident_url": URL,
        "severity": "SEV2",
        "title": "Database down",
        "status": "triggered",
        "incident_id": 7,
    }


def test_it_sends_unicode_as_utf8_json(http_sink):
    deliver(message("webhook", http_sink.url, title="Base de données — arrêt"))

    assert http_sink.last.json()["title"] == "Base de données — arrêt"
    assert "données".encode() in http_sink.last.body


def test_it_retries_a_generic_webhook_that_answers_409(http_sink):
    # 409: the receiver is still busy with a request carrying this idempotency key.
    http_sink.answer(409)

    result = deliver(message("webhook", http_sink.url))

    assert (result.ok, result.permanent) == (False, False)


def test_it_gives_up_on_a_slack_webhook_that_is_gone(http_sink):
    http_sink.answer(Reply(status=404, body=b"no_service"))

    result = deliver(message("slack", http_sink.url))

    assert (result.ok, result.permanent) == (False, True)
    assert result.error == "the Slack webhook answered HTTP 404: no_service"


def test_it_delivers_after_a_500_then_a_200(http_sink):
    http_sink.answer(Reply(status=500, body=b"rollup_error"), 200)

    first = deliver(message("slack", http_sink.url))
    assert should_retry(first, attempt=1)
    second = deliver(message("slack", http_sink.url))

    assert second.ok
    assert len(http_sink.requests) == 2
