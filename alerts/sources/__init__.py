"""One module per alert source, named after its kind; the integration's kind picks it.

Every module has `CONTENT_TYPES` (the media types it accepts) and a pure
`parse(payload, headers, *, config=None) -> list[ParsedAlert]`; it may have
`validate(payload, *, config=None)`
for the few checks made while the webhook request is still open.
"""

import importlib
from types import ModuleType

from .base import IgnoredPayload, ParsedAlert, PayloadError, SubscriptionConfirmation

# The kind names are part of the API (POST /api/v1/integrations/ takes them).
KINDS = (
    "generic",
    "alertmanager",
    "grafana",
    "pagerduty",
    "opsgenie",
    "zabbix",
    "datadog",
    "cloudwatch",
    "azure",
    "gcp",
    "newrelic",
    "sentry",
    "uptime_kuma",
    "logicmonitor",
    "heartbeat",
)


def source_for_kind(kind: str) -> ModuleType:
    if kind not in KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"{__name__}.{kind}")


__all__ = [
    "KINDS",
    "IgnoredPayload",
    "ParsedAlert",
    "PayloadError",
    "SubscriptionConfirmation",
    "source_for_kind",
]
