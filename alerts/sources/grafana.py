"""Grafana webhook contact point: unified alerting and the legacy (pre-9) format.

The two are told apart by shape. Unified alerting sends an Alertmanager-style group (`alerts`,
`version` "1") and is parsed as Alertmanager's, plus Grafana's dashboard and panel links and the
evaluated values. Legacy alerting sends one alert per request (`state`, `ruleId`, `ruleName`,
`evalMatches`) with no alert id, so the fingerprint is a hash of where the rule lives.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

from .alertmanager import SEVERITY_MAP, alerts_from_batch, source_from_labels
from .base import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    as_labels,
    as_text,
    severity_from,
    severity_mapping,
    stable_hash,
    unique_urls,
)

CONTENT_TYPES = ("application/json",)

UNIFIED_LINKS = ("generatorURL", "dashboardURL", "panelURL", "imageURL")
LEGACY_STATES = {"alerting": "firing", "no_data": "firing", "ok": "resolved"}
LEGACY_QUIET_STATES = ("paused", "pending")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    mapping = severity_mapping(SEVERITY_MAP, config)
    if "alerts" in payload:
        return _parse_unified(payload, mapping)
    if "state" in payload and ("ruleName" in payload or "ruleId" in payload):
        return [_parse_legacy(payload, mapping)]
    raise PayloadError(
        "not a Grafana webhook body: expected 'alerts' (unified alerting) or 'state' and "
        "'ruleName' (legacy alerting)"
    )


def _parse_unified(payload: Mapping[str, Any], mapping: Mapping[str, str]) -> list[ParsedAlert]:
    alerts = alerts_from_batch(payload, mapping, link_fields=UNIFIED_LINKS, tool="Grafana")
    return [
        _with_values(alert, item) for alert, item in zip(alerts, payload["alerts"], strict=True)
    ]


def _with_values(alert: ParsedAlert, item: Mapping[str, Any]) -> ParsedAlert:
    """The evaluated values go in the description: they are what the responder checks first.
    Grafana 9 sends only `valueString`; later versions add `values` (an object of numbers)."""
    values = as_text(item.get("valueString"), field="valueString")
    if not values and isinstance(item.get("values"), Mapping):
        values = ", ".join(f"{key}={value}" for key, value in item["values"].items())
    if not values:
        return alert
    description = "\n\n".join(part for part in (alert.description, f"Values: {values}") if part)
    return dataclasses.replace(alert, description=description)


def _parse_legacy(payload: Mapping[str, Any], mapping: Mapping[str, str]) -> ParsedAlert:
    state = as_text(payload.get("state"), field="state", required=True).lower()
    if state in LEGACY_QUIET_STATES:
        raise IgnoredPayload(f"Grafana rule state '{state}' carries no alert")
    status = LEGACY_STATES.get(state)
    if status is None:
        raise PayloadError(
            "'state' must be alerting, no_data, ok, paused or pending", field="state"
        )
    rule_id = as_text(payload.get("ruleId"), field="ruleId")
    rule_name = as_text(payload.get("ruleName"), field="ruleName", max_length=255)
    if not rule_id and not rule_name:
        raise PayloadError("'ruleId' or 'ruleName' is required", field="ruleName")
    # No alert id in the legacy format: the rule and the panel it sits on identify the alert.
    # Missing ids (older Grafana sends no orgId/dashboardId/panelId) hash as empty strings.
    fingerprint = stable_hash(
        as_text(payload.get("orgId"), field="orgId"),
        as_text(payload.get("dashboardId"), field="dashboardId"),
        as_text(payload.get("panelId"), field="panelId"),
        rule_id,
        rule_name,
    )
    tags = as_labels(payload.get("tags"), field="tags")
    labels = {**tags, "grafana_state": state}
    if rule_id:
        labels["grafana_rule_id"] = rule_id
    message = as_text(payload.get("message"), field="message")
    title = as_text(payload.get("title"), field="title", max_length=2000)
    description = "\n\n".join(part for part in (message, _eval_matches(payload)) if part)
    return ParsedAlert(
        fingerprint=fingerprint,
        summary=rule_name or title or f"Grafana rule {rule_id}",
        status=status,
        severity=severity_from(tags.get("severity"), mapping, labels),
        name=rule_name,
        description=description,
        source=source_from_labels(tags),
        service=tags.get("service", ""),
        labels=labels,
        links=unique_urls(as_text(payload.get(key), field=key) for key in ("ruleUrl", "imageUrl")),
    )


def _eval_matches(payload: Mapping[str, Any]) -> str:
    """`metric = value` per series that crossed the threshold (empty on No Data)."""
    matches = payload.get("evalMatches") or []
    if not isinstance(matches, list):
        raise PayloadError("'evalMatches' must be a list", field="evalMatches")
    lines = []
    for index, match in enumerate(matches):
        where = f"evalMatches[{index}]"
        if not isinstance(match, Mapping):
            raise PayloadError(f"'{where}' must be an object", field=where)
        metric = as_text(match.get("metric"), field=f"{where}.metric")
        value = as_text(match.get("value"), field=f"{where}.value")
        lines.append(f"{metric} = {value}")
    return "\n".join(lines)
