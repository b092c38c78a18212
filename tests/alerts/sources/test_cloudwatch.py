"""CloudWatch alarms in SNS envelopes, built here in the documented shape: the alarm is a JSON
string inside the envelope's Message."""

import json
from datetime import UTC, datetime

import pytest

from alerts.sources import cloudwatch
from alerts.sources.base import (
    IgnoredPayload,
    PayloadError,
    SubscriptionConfirmation,
    stable_hash,
)
from tests.alerts.sources import parse_one

TOPIC = "arn:aws:sns:eu-central-1:444455556666:ioc-alarms"
ARN = "arn:aws:cloudwatch:eu-central-1:444455556666:alarm:orders-api-5xx"
HEADERS = {
    "Content-Type": "text/plain; charset=UTF-8",
    "x-amz-sns-message-type": "Notification",
    "User-Agent": "Amazon Simple Notification Service Agent",
}

ALARM = {
    "AlarmName": "orders-api-5xx",
    "AlarmDescription": "5xx on the orders API. severity=critical service=orders",
    "AWSAccountId": "444455556666",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 2 out of the last 3 datapoints were greater than 50.",
    "StateChangeTime": "2024-07-01T10:20:30.456+0000",
    "Region": "EU (Frankfurt)",
    "AlarmArn": ARN,
    "OldStateValue": "OK",
    "Trigger": {
        "MetricName": "HTTPCode_Target_5XX_Count",
        "Namespace": "AWS/ApplicationELB",
        "Statistic": "SUM",
        "Dimensions": [{"value": "i-0a1b2c3d4e5f60718", "name": "InstanceId"}],
        "Period": 60,
        "EvaluationPeriods": 3,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 50.0,
    },
}


def envelope(alarm=None, **fields) -> dict:
    body = {
        "Type": "Notification",
        "MessageId": "0b7c3a55-1f4e-4f7e-9d0e-5a6b7c8d9e0f",
        "TopicArn": TOPIC,
        "Subject": 'ALARM: "orders-api-5xx" in EU (Frankfurt)',
        "Message": json.dumps(alarm if alarm is not None else ALARM),
        "Timestamp": "2024-07-01T10:20:30.500Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-x.pem",
    }
    body.update(fields)
    return body


def test_it_reads_an_alarm():
    alert = parse_one(cloudwatch.parse, envelope(), HEADERS)

    assert alert.fingerprint == ARN
    assert alert.status == "firing"
    assert alert.severity == "critical"
    assert alert.name == "orders-api-5xx"
    assert alert.summary == ALARM["NewStateReason"]
    assert alert.description == f"{ALARM['AlarmDescription']}\n\n{ALARM['NewStateReason']}"
    assert alert.source == "i-0a1b2c3d4e5f60718"
    assert alert.service == "orders"
    assert alert.started_at == datetime(2024, 7, 1, 10, 20, 30, 456000, tzinfo=UTC)
    assert alert.links == (
        "https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1"
        "#alarmsV2:alarm/orders-api-5xx",
    )
    assert alert.labels == {
        "InstanceId": "i-0a1b2c3d4e5f60718",
        "AWSAccountId": "444455556666",
        "Region": "EU (Frankfurt)",
        "OldStateValue": "OK",
        "Namespace": "AWS/ApplicationELB",
        "MetricName": "HTTPCode_Target_5XX_Count",
        "TopicArn": TOPIC,
    }


def test_it_resolves_ok_under_the_same_fingerprint():
    ok = {**ALARM, "NewStateValue": "OK", "OldStateValue": "ALARM"}

    fired, resolved = (
        parse_one(cloudwatch.parse, envelope(), HEADERS),
        parse_one(cloudwatch.parse, envelope(ok, Subject='OK: "x"'), HEADERS),
    )

    assert resolved.status == "resolved"
    assert resolved.fingerprint == fired.fingerprint
    assert resolved.ended_at == datetime(2024, 7, 1, 10, 20, 30, 456000, tzinfo=UTC)
    assert resolved.started_at is None


def test_it_hashes_name_account_and_region_without_an_alarm_arn():
    alarm = {key: value for key, value in ALARM.items() if key != "AlarmArn"}

    alert = parse_one(cloudwatch.parse, envelope(alarm), HEADERS)

    assert alert.fingerprint == stable_hash("orders-api-5xx", "444455556666", "EU (Frankfurt)")
    assert alert.links == ()


def test_it_names_the_alarm_from_the_message_not_the_subject():
    alert = parse_one(
        cloudwatch.parse, envelope(Subject='ALARM: "another-name" in EU (Frankfurt)'), HEADERS
    )

    assert alert.name == "orders-api-5xx"


def test_it_reads_dimensions_of_a_metric_math_alarm():
    trigger = {
        "Period": 300,
        "ThresholdMetricId": "band",
        "Metrics": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Dimensions": [{"value": "web-09", "name": "host"}],
                        "MetricName": "latency",
                        "Namespace": "Lab/Web",
                    },
                    "Stat": "p99",
                },
            },
            {"Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "Id": "band"},
        ],
    }
    alarm = {**ALARM, "AlarmDescription": None, "Trigger": trigger}

    alert = parse_one(cloudwatch.parse, envelope(alarm), HEADERS)

    assert alert.source == "web-09"
    assert alert.labels["host"] == "web-09"
    assert alert.severity is None
    assert alert.service == ""


def test_it_takes_the_service_from_a_dimension():
    alarm = {
        **ALARM,
        "AlarmDescription": "",
        "Trigger": {"Dimensions": [{"name": "Service", "value": "billing"}]},
    }

    assert parse_one(cloudwatch.parse, envelope(alarm), HEADERS).service == "billing"


def test_it_shortens_a_long_reason_in_the_summary():
    alarm = {**ALARM, "NewStateReason": "x" * 500}

    summary = parse_one(cloudwatch.parse, envelope(alarm), HEADERS).summary

    assert summary == "x" * 199 + "…"


@pytest.mark.parametrize(
    ("token", "severity"),
    [
        ("severity=critical", "critical"),
        ("Severity: high", "high"),
        ("severity=error", "high"),
        ("severity=warning", "warning"),
        ("severity=info", "info"),
        ("severity=low", "info"),
    ],
)
def test_it_reads_the_severity_from_the_description(token, severity):
    alarm = {**ALARM, "AlarmDescription": f"Orders API errors ({token})"}

    assert parse_one(cloudwatch.parse, envelope(alarm), HEADERS).severity == severity


def test_it_has_no_severity_without_a_token():
    alarm = {**ALARM, "AlarmDescription": "Orders API errors"}

    alert = parse_one(cloudwatch.parse, envelope(alarm), HEADERS)

    assert alert.severity is None
    assert "source_severity" not in alert.labels


def test_it_keeps_an_unlisted_severity_as_a_label():
    alarm = {**ALARM, "AlarmDescription": "severity=sev2"}

    alert = parse_one(cloudwatch.parse, envelope(alarm), HEADERS)

    assert alert.severity is None
    assert alert.labels["source_severity"] == "sev2"


def test_it_applies_the_integration_severity_map():
    alarm = {**ALARM, "AlarmDescription": "severity=sev2"}

    alert = parse_one(
        cloudwatch.parse, envelope(alarm), HEADERS, config={"severity_map": {"SEV2": "high"}}
    )

    assert alert.severity == "high"


def test_it_ignores_insufficient_data():
    alarm = {**ALARM, "NewStateValue": "INSUFFICIENT_DATA"}

    with pytest.raises(IgnoredPayload, match="insufficient data for alarm orders-api-5xx"):
        cloudwatch.parse(envelope(alarm), HEADERS)


def test_it_ignores_a_message_that_is_not_an_alarm():
    with pytest.raises(IgnoredPayload, match="not a CloudWatch alarm"):
        cloudwatch.parse(envelope(Message="Deployment 41 finished"), HEADERS)
    with pytest.raises(IgnoredPayload, match="not a CloudWatch alarm"):
        cloudwatch.parse(envelope(Message='{"source": "aws.ec2"}'), HEADERS)


def test_it_hands_back_a_subscription_confirmation():
    url = "https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc123"
    body = envelope(Type="SubscriptionConfirmation", Message="Confirm it", SubscribeURL=url)

    with pytest.raises(SubscriptionConfirmation) as confirmation:
        cloudwatch.parse(body, {"x-amz-sns-message-type": "SubscriptionConfirmation"})

    assert confirmation.value.subscribe_url == url
    assert confirmation.value.topic_arn == TOPIC


def test_it_ignores_an_unsubscribe_confirmation():
    body = envelope(Type="UnsubscribeConfirmation", Message="Bye", SubscribeURL="https://x")

    with pytest.raises(IgnoredPayload, match="unsubscribe confirmation"):
        cloudwatch.parse(body, HEADERS)


def test_it_reads_the_type_from_the_header_when_the_body_has_none():
    body = {key: value for key, value in envelope().items() if key != "Type"}

    assert parse_one(cloudwatch.parse, body, HEADERS).status == "firing"


def test_it_refuses_a_body_that_is_not_an_sns_message():
    with pytest.raises(PayloadError, match="not an SNS message") as error:
        cloudwatch.parse({"AlarmName": "orders-api-5xx"}, {})
    assert error.value.field == "Type"


def test_it_refuses_a_message_that_is_not_a_string():
    with pytest.raises(PayloadError, match="'Message' must be a string"):
        cloudwatch.parse(envelope(Message=ALARM), HEADERS)


def test_it_explains_a_bare_alarm_from_raw_message_delivery():
    with pytest.raises(PayloadError, match="turn raw message delivery off") as error:
        cloudwatch.parse(ALARM, HEADERS)
    assert error.value.field == "Message"


def test_it_refuses_a_subscription_confirmation_without_url():
    with pytest.raises(PayloadError, match="'SubscribeURL' is required"):
        cloudwatch.parse(envelope(Type="SubscriptionConfirmation"), HEADERS)


def test_it_refuses_an_unknown_state():
    with pytest.raises(PayloadError, match="'NewStateValue' must be ALARM, OK"):
        cloudwatch.parse(envelope({**ALARM, "NewStateValue": "BROKEN"}), HEADERS)


def test_it_refuses_an_alarm_name_that_is_not_text():
    with pytest.raises(PayloadError, match=r"'Message\.AlarmName' must be a string"):
        cloudwatch.parse(envelope({**ALARM, "AlarmName": ["a", "b"]}), HEADERS)


def test_it_builds_the_string_to_sign_for_a_notification():
    body = {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:eu-west-3:111122223333:t",
        "Subject": "Hi",
        "Message": "line one\nline two",
        "Timestamp": "2024-01-02T03:04:05.678Z",
        "Signature": "ignored",
        "UnsubscribeURL": "https://ignored",
    }

    assert cloudwatch.signing_string(body) == (
        b"Message\nline one\nline two\n"
        b"MessageId\nm-1\n"
        b"Subject\nHi\n"
        b"Timestamp\n2024-01-02T03:04:05.678Z\n"
        b"TopicArn\narn:aws:sns:eu-west-3:111122223333:t\n"
        b"Type\nNotification\n"
    )
    del body["Subject"]
    assert b"Subject" not in cloudwatch.signing_string(body)


def test_it_builds_the_string_to_sign_for_a_subscription_confirmation():
    body = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "m-2",
        "Token": "tok",
        "TopicArn": "arn:aws:sns:eu-west-3:111122223333:t",
        "Message": "Confirm",
        "SubscribeURL": "https://sns.eu-west-3.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2024-01-02T03:04:05.678Z",
    }

    assert cloudwatch.signing_string(body) == (
        b"Message\nConfirm\n"
        b"MessageId\nm-2\n"
        b"SubscribeURL\nhttps://sns.eu-west-3.amazonaws.com/?Action=ConfirmSubscription\n"
        b"Timestamp\n2024-01-02T03:04:05.678Z\n"
        b"Token\ntok\n"
        b"TopicArn\narn:aws:sns:eu-west-3:111122223333:t\n"
        b"Type\nSubscriptionConfirmation\n"
    )


def test_it_refuses_to_sign_an_incomplete_envelope():
    with pytest.raises(PayloadError, match="'MessageId' must be a string") as error:
        cloudwatch.signing_string({"Type": "UnsubscribeConfirmation", "Message": "m"})
    assert error.value.field == "MessageId"
    with pytest.raises(PayloadError, match="unknown 'Type'"):
        cloudwatch.signing_string({"Type": "Bogus"})
