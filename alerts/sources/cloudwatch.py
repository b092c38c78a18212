"""Amazon CloudWatch alarms, delivered by an SNS topic's HTTPS subscription.

SNS posts its envelope as text/plain; the alarm is a JSON string inside `Message`. A
SubscriptionConfirmation is handed back for confirming later, an UnsubscribeConfirmation and any
non-alarm message are ignored. The signature is checked elsewhere, before parsing;
`signing_string` builds what it covers.
"""

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .base import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    SubscriptionConfirmation,
    as_text,
    parse_time,
    severity_from,
    severity_mapping,
    stable_hash,
)

CONTENT_TYPES = ("application/json", "text/plain")

# CloudWatch alarms have no severity: an AlarmDescription may carry `severity=high`.
SEVERITY_MAP = {
    "critical": "critical",
    "high": "high",
    "error": "high",
    "warning": "warning",
    "medium": "warning",
    "info": "info",
    "low": "info",
}
DESCRIPTION_TOKEN = re.compile(r"\b(severity|service)\s*[:=]\s*([\w.-]+)", re.IGNORECASE)
# Dimensions that name the affected host, in order of preference.
HOST_DIMENSIONS = ("instanceid", "host", "hostname")
STATES = {"ALARM": "firing", "OK": "resolved"}
SUMMARY_LENGTH = 200

# The keys SNS signs, in order, per message type (Subject only when present).
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_KEYS["UnsubscribeConfirmation"] = SIGNED_KEYS["SubscriptionConfirmation"]


def signing_string(envelope: Mapping[str, Any]) -> bytes:
    """The canonical text an SNS signature covers: each key, then its value, one a line."""
    message_type = envelope.get("Type") if isinstance(envelope, Mapping) else None
    keys = SIGNED_KEYS.get(message_type) if isinstance(message_type, str) else None
    if keys is None:
        raise PayloadError("not an SNS message: unknown 'Type'", field="Type")
    lines = []
    for key in keys:
        if key == "Subject" and envelope.get(key) is None:
            continue
        value = envelope.get(key)
        if not isinstance(value, str):
            raise PayloadError(f"SNS '{key}' must be a string: the signature covers it", field=key)
        lines.append(f"{key}\n{value}\n")
    return "".join(lines).encode("utf-8")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be an SNS message (a JSON object)")
    lowered = {str(key).lower(): value for key, value in headers.items()}
    message_type = as_text(
        payload.get("Type") or lowered.get("x-amz-sns-message-type"), field="Type"
    )
    topic_arn = as_text(payload.get("TopicArn"), field="TopicArn")
    if message_type == "SubscriptionConfirmation":
        url = as_text(payload.get("SubscribeURL"), field="SubscribeURL", required=True)
        raise SubscriptionConfirmation(url, topic_arn)
    if message_type == "UnsubscribeConfirmation":
        raise IgnoredPayload(f"SNS unsubscribe confirmation for {topic_arn or 'a topic'}")
    if message_type != "Notification":
        raise PayloadError(
            "not an SNS message: 'Type' must be Notification, SubscriptionConfirmation or "
            "UnsubscribeConfirmation; subscribe IOC to the topic with the HTTPS protocol",
            field="Type",
        )
    alarm = _alarm(payload.get("Message"))
    return [_parse_alarm(alarm, topic_arn, config)]


def _alarm(message: Any) -> Mapping[str, Any]:
    if message is None:
        # With raw message delivery SNS posts the bare alarm, without envelope or signature.
        raise PayloadError(
            "the SNS envelope has no 'Message': turn raw message delivery off on the subscription",
            field="Message",
        )
    if not isinstance(message, str):
        raise PayloadError("SNS 'Message' must be a string", field="Message")
    try:
        alarm = json.loads(message)
    except ValueError:
        alarm = None
    if not isinstance(alarm, Mapping) or "AlarmName" not in alarm or "NewStateValue" not in alarm:
        raise IgnoredPayload("the SNS message is not a CloudWatch alarm")
    return alarm


def _parse_alarm(
    alarm: Mapping[str, Any], topic_arn: str, config: Mapping[str, Any] | None
) -> ParsedAlert:
    name = as_text(alarm.get("AlarmName"), field="Message.AlarmName", required=True)
    state = as_text(alarm.get("NewStateValue"), field="Message.NewStateValue").upper()
    if state == "INSUFFICIENT_DATA":
        # Not a problem state: CloudWatch lacks data points to judge the alarm either way.
        raise IgnoredPayload(f"insufficient data for alarm {name}; not a problem state")
    status = STATES.get(state)
    if status is None:
        raise PayloadError(
            "'NewStateValue' must be ALARM, OK or INSUFFICIENT_DATA", field="Message.NewStateValue"
        )
    arn = as_text(alarm.get("AlarmArn"), field="Message.AlarmArn")
    account = as_text(alarm.get("AWSAccountId"), field="Message.AWSAccountId")
    region = as_text(alarm.get("Region"), field="Message.Region")
    description = as_text(alarm.get("AlarmDescription"), field="Message.AlarmDescription")
    reason = as_text(alarm.get("NewStateReason"), field="Message.NewStateReason")
    tokens = {key.lower(): value for key, value in DESCRIPTION_TOKEN.findall(description)}

    trigger = alarm.get("Trigger") if isinstance(alarm.get("Trigger"), Mapping) else {}
    dimensions = _dimensions(trigger)
    lowered = {key.lower(): value for key, value in dimensions.items()}
    labels = {
        **dimensions,
        "AWSAccountId": account,
        "Region": region,
        "OldStateValue": as_text(alarm.get("OldStateValue"), field="Message.OldStateValue"),
        "Namespace": as_text(trigger.get("Namespace"), field="Message.Trigger.Namespace"),
        "MetricName": as_text(trigger.get("MetricName"), field="Message.Trigger.MetricName"),
        "TopicArn": topic_arn,
    }
    labels = {key: value for key, value in labels.items() if value}
    severity = severity_from(tokens.get("severity"), severity_mapping(SEVERITY_MAP, config), labels)
    when = parse_time(alarm.get("StateChangeTime"))
    summary = reason or description or name
    if len(summary) > SUMMARY_LENGTH:
        summary = summary[: SUMMARY_LENGTH - 1].rstrip() + "…"
    return ParsedAlert(
        fingerprint=arn or stable_hash(name, account, region),
        summary=summary,
        status=status,
        severity=severity,
        name=name,
        description="\n\n".join(text for text in (description, reason) if text),
        source=next((lowered[key] for key in HOST_DIMENSIONS if lowered.get(key)), ""),
        service=tokens.get("service") or lowered.get("service", ""),
        labels=labels,
        links=_console_link(arn, name),
        started_at=when if status == "firing" else None,
        ended_at=when if status == "resolved" else None,
    )


def _dimensions(trigger: Mapping[str, Any]) -> dict[str, str]:
    """Dimensions of a threshold alarm, or of the metrics of a metric-math/anomaly alarm."""
    found = list(_as_list(trigger.get("Dimensions")))
    for metric in _as_list(trigger.get("Metrics")):
        stat = metric.get("MetricStat") if isinstance(metric, Mapping) else None
        inner = stat.get("Metric") if isinstance(stat, Mapping) else None
        if isinstance(inner, Mapping):
            found.extend(_as_list(inner.get("Dimensions")))
    dimensions = {}
    for item in found:
        if isinstance(item, Mapping) and item.get("name"):
            key = as_text(item.get("name"), field="Message.Trigger.Dimensions.name")
            dimensions[key[:200]] = as_text(
                item.get("value"), field="Message.Trigger.Dimensions.value", max_length=2000
            )
    return dimensions


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _console_link(arn: str, name: str) -> tuple[str, ...]:
    parts = arn.split(":")
    if len(parts) < 4 or not parts[3]:
        return ()
    region = parts[3]
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(name, safe='')}",
    )
