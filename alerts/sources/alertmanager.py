"""Prometheus Alertmanager webhook, version 4.

One delivery is a group of alerts, possibly mixing firing and resolved ones; each alert becomes
one ParsedAlert with its own status. The fingerprint is the one Alertmanager computes; older
Alertmanagers send none, and then a hash of the sorted labels stands in (Alertmanager's own
fingerprint is a function of the label set too, so both are stable across notifications).

The Grafana parser reuses `alerts_from_batch` (unified alerting sends the same shape), and the
small helpers below the Alertmanager part are shared by the grafana, pagerduty and opsgenie
parsers because base.py has no equivalent.
"""

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .base import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    as_labels,
    as_text,
    parse_time,
    severity_from,
    severity_mapping,
    stable_hash,
    unique_urls,
)

CONTENT_TYPES = ("application/json",)

SEVERITY_MAP = {
    "critical": "critical",
    "high": "high",
    "error": "high",
    "major": "high",
    "warning": "warning",
    "minor": "warning",
    "info": "info",
}
STATUSES = {"firing": "firing", "resolved": "resolved"}
SOURCE_LABELS = ("host", "hostname", "node")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    return alerts_from_batch(
        payload, severity_mapping(SEVERITY_MAP, config), link_fields=("generatorURL",)
    )


def alerts_from_batch(
    payload: Any,
    mapping: Mapping[str, str],
    *,
    link_fields: Iterable[str],
    tool: str = "Alertmanager",
) -> list[ParsedAlert]:
    """One ParsedAlert per entry of `alerts`; `link_fields` are the per-alert URL fields."""
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    items = payload.get("alerts")
    if items is None:
        raise PayloadError(f"'alerts' is missing: not a webhook body from {tool}", field="alerts")
    if not isinstance(items, list):
        raise PayloadError("'alerts' must be a list of alerts", field="alerts")
    if not items:
        raise IgnoredPayload("the delivery carries no alerts")
    group_status = as_text(payload.get("status"), field="status").lower()
    batch_labels = {}
    truncated = payload.get("truncatedAlerts")
    # Alertmanager cut the group at max_alerts: say so on every alert that did arrive.
    if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
        batch_labels["truncated_alerts"] = str(truncated)
    return [
        _alert_from(item, f"alerts[{index}]", group_status, mapping, batch_labels, link_fields)
        for index, item in enumerate(items)
    ]


def _alert_from(
    item: Any,
    where: str,
    group_status: str,
    mapping: Mapping[str, str],
    batch_labels: dict[str, str],
    link_fields: Iterable[str],
) -> ParsedAlert:
    if not isinstance(item, Mapping):
        raise PayloadError(f"'{where}' must be an object", field=where)
    labels = as_labels(item.get("labels"), field=f"{where}.labels")
    annotations = as_labels(item.get("annotations"), field=f"{where}.annotations")

    # The alert's own status, never endsAt: newer Alertmanagers send a future endsAt while an
    # alert still fires. Very old ones have no per-alert status; the group's is then the only one.
    raw_status = as_text(item.get("status"), field=f"{where}.status").lower() or group_status
    status = STATUSES.get(raw_status)
    if status is None:
        raise PayloadError(
            f"'{where}.status' must be 'firing' or 'resolved'", field=f"{where}.status"
        )

    fingerprint = as_text(item.get("fingerprint"), field=f"{where}.fingerprint")
    if not fingerprint:
        if not labels:
            raise PayloadError(f"'{where}' has neither a fingerprint nor labels", field=where)
        fingerprint = stable_hash(*(f"{key}={value}" for key, value in sorted(labels.items())))

    alert_labels = {**labels, **batch_labels}
    severity = severity_from(labels.get("severity"), mapping, alert_labels)
    name = labels.get("alertname", "")[:255]
    description = annotations.get("description") or annotations.get("message", "")
    summary = annotations.get("summary") or description or name or f"Alert {fingerprint}"
    links = [as_text(item.get(key), field=f"{where}.{key}") for key in link_fields]
    links.append(annotations.get("runbook_url", ""))
    return ParsedAlert(
        fingerprint=fingerprint,
        summary=summary[:2000],
        status=status,
        severity=severity,
        name=name,
        description=description,
        source=source_from_labels(labels),
        service=labels.get("service", ""),
        labels=alert_labels,
        links=unique_urls(links),
        started_at=parse_time(item.get("startsAt")),
        ended_at=parse_time(item.get("endsAt")) if status == "resolved" else None,
    )


def source_from_labels(labels: Mapping[str, str]) -> str:
    """The affected host: `instance` without its port, else a host/hostname/node label."""
    instance = labels.get("instance", "")
    if "://" in instance:  # blackbox probes: the instance is the probed URL
        return urlsplit(instance).hostname or instance
    if instance.startswith("["):  # [IPv6]:port
        return instance[1:].split("]", 1)[0]
    host, _, port = instance.rpartition(":")
    if host and port.isdigit() and ":" not in host:
        return host
    if instance:
        return instance
    return next((labels[key] for key in SOURCE_LABELS if labels.get(key)), "")
