"""Hand-checked outcomes for the SNS / CloudWatch bodies in shared/payloads/.

SNS posts as text/plain. The alarms have no `severity=` token in their descriptions, so no
severity ("warning" is the integration default), and no `service=` token or Service dimension.
The alerta alarm predates AlarmArn: its fingerprint is a hash of name, account and region.
INSUFFICIENT_DATA is not a problem state and is ignored; so are the unsubscribe confirmation and
the "Hello world!" notification, which is not an alarm.
"""

from alerts.sources.base import stable_hash

KIND = "cloudwatch"
DIRECTORIES = ["aws-sns-cloudwatch"]

TEXT = "text/plain; charset=UTF-8"
AGENT = "Amazon Simple Notification Service Agent"


def _headers(message_type: str, message_id: str, topic_arn: str) -> dict:
    return {
        "x-amz-sns-message-type": message_type,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic_arn,
        "User-Agent": AGENT,
    }


def _alarm(fingerprint: str, status: str, name: str) -> dict:
    alert = {"fingerprint": fingerprint, "status": status, "severity": "warning", "service": ""}
    return {"alerts": [{**alert, "name": name}]}


ALERTA_TOPIC = "arn:aws:sns:eu-west-1:1234567890:alerta-test"
SEOUL_TOPIC = "arn:aws:sns:ap-northeast-2:257706363616:spaceone-notification"
DOCS_TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"

EXPECTED = {
    "alerta-cloudwatch-alarm.json": {
        **_alarm(
            stable_hash("bucketbytesAlarm", "1234567890", "EU (Ireland)"),
            "firing",
            "bucketbytesAlarm",
        ),
        "headers": _headers("Notification", "e288882d-4281-5be4-8fde-dccc11c8cb01", ALERTA_TOPIC),
        "content_type": TEXT,
    },
    "alerta-cloudwatch-insufficient-data.json": {
        "outcome": "ignored: insufficient data",
        "headers": _headers("Notification", "3a6a339c-60fc-5718-875e-66cf50fbf89a", ALERTA_TOPIC),
        "content_type": TEXT,
    },
    "alerta-subscription-confirmation.json": {
        "outcome": "subscription_confirmation",
        "headers": _headers(
            "SubscriptionConfirmation", "8a14e4f3-f3ab-4be0-a12f-681ee8fe214f", ALERTA_TOPIC
        ),
        "content_type": TEXT,
    },
    "awsdocs-notification-generic.json": {
        "outcome": "ignored: not a CloudWatch alarm",
        "headers": _headers("Notification", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", DOCS_TOPIC),
        "content_type": TEXT,
    },
    "awsdocs-subscription-confirmation.json": {
        "outcome": "subscription_confirmation",
        "headers": _headers(
            "SubscriptionConfirmation", "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", DOCS_TOPIC
        ),
        "content_type": TEXT,
    },
    "awsdocs-unsubscribe-confirmation.json": {
        "outcome": "ignored: unsubscribe confirmation",
        "headers": _headers(
            "UnsubscribeConfirmation", "47138184-6831-46b8-8f7c-afc488602d7d", DOCS_TOPIC
        ),
        "content_type": TEXT,
    },
    "cloudforet-cloudwatch-alarm-ec2-cpu.json": {
        **_alarm(
            "arn:aws:cloudwatch:ap-northeast-2:257706363616:alarm:EC2-CPU", "firing", "EC2-CPU"
        ),
        "headers": _headers("Notification", "e7c82e01-7cd8-5569-9ac1-774d893afc01", SEOUL_TOPIC),
        "content_type": TEXT,
    },
    # An anomaly-detection alarm: Trigger has Metrics[] instead of MetricName.
    "cloudforet-cloudwatch-ok-anomaly-band.json": {
        **_alarm(
            "arn:aws:cloudwatch:ap-northeast-2:257706363616:alarm:ContainerInsight-pod_cpu_utilization",
            "resolved",
            "ContainerInsight-pod_cpu_utilization",
        ),
        "headers": _headers("Notification", "448b4055-f4e5-5887-a547-190771c6686b", SEOUL_TOPIC),
        "content_type": TEXT,
    },
    "cloudforet-cloudwatch-ok-ec2-cpu.json": {
        **_alarm(
            "arn:aws:cloudwatch:ap-northeast-1:257706363616:alarm:ec2CPUUtilization",
            "resolved",
            "ec2CPUUtilization",
        ),
        "headers": _headers(
            "Notification",
            "20a65051-dd7d-5952-906e-09179028dc41",
            "arn:aws:sns:ap-northeast-1:257706363616:aws-sns-topic",
        ),
        "content_type": TEXT,
    },
}
