"""Azure Monitor alerts, from an action group's webhook with the common alert schema enabled.

`data.essentials` is the same for every alert type; `data.alertContext` depends on the
monitoring service and is read only for a readable condition line and links. The alert id is the
fingerprint: Fired and Resolved carry the same one.
"""

from collections.abc import Mapping
from typing import Any

from .base import (
    ParsedAlert,
    PayloadError,
    as_labels,
    as_text,
    parse_time,
    severity_from,
    severity_mapping,
)

CONTENT_TYPES = ("application/json",)

SCHEMA_ID = "azuremonitorcommonalertschema"
SEVERITY_MAP = {
    "sev0": "critical",
    "sev1": "high",
    "sev2": "warning",
    "sev3": "info",
    "sev4": "info",
}
CONDITIONS = {"fired": "firing", "resolved": "resolved"}
ESSENTIAL_LABELS = (
    "signalType",
    "monitoringService",
    "alertRuleId",
    "originAlertId",
    "targetResourceType",
    "targetResourceGroup",
)
# alertContext links meant for people, not the API ones.
CONTEXT_LINKS = ("linkToFilteredSearchResultsUI", "linkToSearchResultsUI")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    schema = as_text(payload.get("schemaId"), field="schemaId").lower()
    if schema != SCHEMA_ID:
        raise PayloadError(
            "not the Azure Monitor common alert schema: in the action group, edit the webhook "
            "action and turn on 'Enable the common alert schema'",
            field="schemaId",
        )
    data = payload.get("data")
    essentials = data.get("essentials") if isinstance(data, Mapping) else None
    if not isinstance(essentials, Mapping):
        raise PayloadError("'data.essentials' must be an object", field="data.essentials")

    alert_id = as_text(essentials.get("alertId"), field="data.essentials.alertId", required=True)
    rule = as_text(essentials.get("alertRule"), field="data.essentials.alertRule", max_length=255)
    condition = as_text(
        essentials.get("monitorCondition"), field="data.essentials.monitorCondition"
    )
    status = CONDITIONS.get(condition.lower())
    if status is None:
        raise PayloadError(
            "'monitorCondition' must be Fired or Resolved", field="data.essentials.monitorCondition"
        )

    custom = as_labels(data.get("customProperties"), field="data.customProperties")
    labels = {
        **custom,
        **{
            key: as_text(essentials.get(key), field=f"data.essentials.{key}", max_length=2000)
            for key in ESSENTIAL_LABELS
        },
    }
    targets = _strings(essentials.get("alertTargetIDs"), "data.essentials.alertTargetIDs")
    items = _strings(essentials.get("configurationItems"), "data.essentials.configurationItems")
    if targets:
        labels["alertTargetID"] = targets[0]
    labels = {key: value for key, value in labels.items() if value}
    severity = severity_from(
        as_text(essentials.get("severity"), field="data.essentials.severity"),
        severity_mapping(SEVERITY_MAP, config),
        labels,
    )

    criteria = _criteria(data.get("alertContext"))
    summary = as_text(essentials.get("description"), field="data.essentials.description")
    investigation = as_text(
        essentials.get("investigationLink"), field="data.essentials.investigationLink"
    )
    search = (_text(item.get(key)) for item in criteria for key in CONTEXT_LINKS)
    links = (investigation, next((link for link in search if link), ""))
    resolved_at = essentials.get("resolvedDateTime") if status == "resolved" else None
    return [
        ParsedAlert(
            fingerprint=alert_id,
            summary=summary or rule or alert_id,
            status=status,
            severity=severity,
            name=rule,
            description="\n".join(filter(None, (summary, *map(_condition_line, criteria)))),
            source=_source(targets, items),
            service=next((v for k, v in custom.items() if k.lower() == "service"), ""),
            labels=labels,
            links=tuple(link for link in links if link.startswith("https://")),
            started_at=parse_time(essentials.get("firedDateTime")),
            ended_at=parse_time(resolved_at),
        )
    ]


def _source(targets: list[str], configuration_items: list[str]) -> str:
    """The first target resource's name (the last segment of its id), else the first item."""
    if targets:
        return targets[0].rstrip("/").rsplit("/", 1)[-1]
    return configuration_items[0] if configuration_items else ""


def _strings(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"'{field}' must be a list of strings", field=field)
    return [text for item in value if (text := as_text(item, field=field, max_length=2000))]


def _criteria(context: Any) -> list[Mapping[str, Any]]:
    """The condition's criteria; alertContext differs by service, so anything else is none."""
    condition = context.get("condition") if isinstance(context, Mapping) else None
    criteria = condition.get("allOf") if isinstance(condition, Mapping) else None
    if not isinstance(criteria, list):
        return []
    return [item for item in criteria if isinstance(item, Mapping)]


def _condition_line(criterion: Mapping[str, Any]) -> str:
    """E.g. "Percentage CPU GreaterThan 25 (value 7.727)"; threshold is a string, value a
    number."""
    subject = _text(criterion.get("metricName")) or _text(criterion.get("searchQuery"))[:200]
    operator, threshold = _text(criterion.get("operator")), _text(criterion.get("threshold"))
    value = _text(criterion.get("metricValue"))
    if not subject or not operator:
        return ""
    return f"{subject} {operator} {threshold}" + (f" (value {value})" if value else "")


def _text(value: Any) -> str:
    """A scalar from alertContext as text; its shape is not fixed, so other values give ""."""
    return str(value).strip() if isinstance(value, str | int | float) else ""
