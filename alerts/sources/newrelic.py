"""New Relic: workflow webhooks (the default Handlebars payload) and legacy alert channels.

Workflow body: `issueId` (the default template calls it `id`), `issueUrl`, `title`, `priority`,
`state` CREATED/ACTIVATED/CLOSED with `trigger`, `isCorrelated`, `createdAt`/`updatedAt` (epoch
ms), `alertPolicyNames`, `alertConditionNames`, `impactedEntities` or `entitiesData`, and
`accumulations` (whose `tag.*` entries are the entities' tags). Legacy alert-channel body:
`incident_id`, `current_state` open/acknowledged/closed, `severity`, `condition_name`,
`policy_name`, `details`, `targets`. The two are told apart by shape.
"""

import re
from collections.abc import Mapping
from typing import Any

from .base import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    as_labels,
    as_text,
    non_empty,
    parse_time,
    severity_from,
    severity_mapping,
)

CONTENT_TYPES = ("application/json",)

SEVERITY = {
    "critical": "critical",
    "high": "high",
    "medium": "warning",
    "low": "info",
    # Legacy alert channels say WARNING and INFO.
    "warning": "warning",
    "info": "info",
}

WORKFLOW_STATES = {"CREATED": "firing", "ACTIVATED": "firing", "CLOSED": "resolved"}
# An acknowledgement arrives as an ACTIVATED issue whose trigger is the user's action.
ACKNOWLEDGING_TRIGGERS = {"ACKNOWLEDGED", "USER_ACTION"}
LEGACY_STATES = {"open": "firing", "acknowledged": "acknowledged", "closed": "resolved"}

TAG_KEY = re.compile(r"^tags?\.(.+)$")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    mapping = severity_mapping(SEVERITY, config)
    if "current_state" in payload or "incident_id" in payload:
        return [_legacy(payload, mapping)]
    if "state" in payload or "issueId" in payload:
        return [_workflow(payload, mapping)]
    if "deployment" in payload:
        raise IgnoredPayload("New Relic deployment notice")
    raise PayloadError(
        "not a New Relic alert: expected a workflow payload with 'issueId' (or 'id') and 'state', "
        "or a legacy alert-channel payload with 'incident_id' and 'current_state'"
    )


def _workflow(payload: Mapping, mapping: Mapping[str, str]) -> ParsedAlert:
    issue_id = as_text(
        payload.get("issueId") or payload.get("id"), field="issueId", required=True, max_length=255
    )
    state = as_text(payload.get("state"), field="state", required=True).upper()
    trigger = as_text(payload.get("trigger") or payload.get("triggerEvent"), field="trigger")
    if state == "ACTIVATED" and trigger.upper() in ACKNOWLEDGING_TRIGGERS:
        status = "acknowledged"
    elif state in WORKFLOW_STATES:
        status = WORKFLOW_STATES[state]
    else:
        raise PayloadError("'state' must be CREATED, ACTIVATED or CLOSED", field="state")

    accumulations = payload.get("accumulations")
    if accumulations is not None and not isinstance(accumulations, Mapping):
        raise PayloadError("'accumulations' must be an object", field="accumulations")
    tags = _accumulated_tags(accumulations or {})
    labels = {name: ", ".join(values)[:2000] for name, values in tags.items()}
    conditions = _names(payload.get("alertConditionNames"), "alertConditionNames")
    policies = _names(payload.get("alertPolicyNames"), "alertPolicyNames")
    entities = _names(payload.get("impactedEntities"), "impactedEntities") or _entity_names(
        payload.get("entitiesData")
    )
    severity = severity_from(payload.get("priority"), mapping, labels)
    labels.update(
        non_empty(
            state=state,
            trigger=trigger,
            policy=", ".join(policies),
            condition=", ".join(conditions),
            workflow=as_text(payload.get("workflowName"), field="workflowName"),
            sources=", ".join(_names(payload.get("sources"), "sources")),
            correlated=as_text(payload.get("isCorrelated"), field="isCorrelated").lower(),
            total_incidents=as_text(payload.get("totalIncidents"), field="totalIncidents"),
        )
    )
    title = as_text(payload.get("title"), field="title", max_length=2000)
    name = (conditions[0] if conditions else title)[:255]
    url = as_text(payload.get("issueUrl") or payload.get("issuePageUrl"), field="issueUrl")
    # A template may carry its own "service"; else the first value of the entities' service tag.
    service = as_text(payload.get("service"), field="service") or next(
        iter(tags.get("service", [])), ""
    )
    return ParsedAlert(
        fingerprint=issue_id,
        summary=title or name or f"New Relic issue {issue_id}",
        status=status,
        severity=severity,
        name=name,
        description=as_text(payload.get("description"), field="description"),
        source=entities[0] if entities else "",
        service=service,
        labels=labels,
        links=(url,) if url else (),
        started_at=parse_time(payload.get("createdAt")),
        ended_at=parse_time(payload.get("updatedAt")) if status == "resolved" else None,
    )


def _legacy(payload: Mapping, mapping: Mapping[str, str]) -> ParsedAlert:
    incident_id = as_text(payload.get("incident_id"), field="incident_id", required=True)
    state = as_text(payload.get("current_state"), field="current_state", required=True).lower()
    if state not in LEGACY_STATES:
        raise PayloadError(
            "'current_state' must be open, acknowledged or closed", field="current_state"
        )
    status = LEGACY_STATES[state]
    targets = payload.get("targets") or []
    if not isinstance(targets, list) or not all(isinstance(t, Mapping) for t in targets):
        raise PayloadError("'targets' must be a list of objects", field="targets")
    labels: dict[str, str] = {}
    for index, target in enumerate(targets):
        labels = {**as_labels(target.get("labels"), field=f"targets.{index}.labels"), **labels}
    target_names = [as_text(t.get("name"), field="targets.name") for t in targets]
    severity = severity_from(payload.get("severity"), mapping, labels)
    condition = as_text(payload.get("condition_name"), field="condition_name", max_length=255)
    labels.update(
        non_empty(
            policy=as_text(payload.get("policy_name"), field="policy_name"),
            condition=condition,
            account=as_text(payload.get("account_name"), field="account_name"),
            product=as_text(targets[0].get("product"), field="targets.product") if targets else "",
        )
    )
    links = tuple(
        url
        for key in ("incident_url", "runbook_url")
        if (url := as_text(payload.get(key), field=key))
    )
    at = parse_time(payload.get("timestamp"))
    details = as_text(payload.get("details"), field="details", max_length=2000)
    return ParsedAlert(
        fingerprint=incident_id,
        summary=details or condition or f"New Relic incident {incident_id}",
        status=status,
        severity=severity,
        name=condition,
        description=as_text(payload.get("condition_description"), field="condition_description"),
        source=next((name for name in target_names if name), ""),
        service=labels.get("service", ""),
        labels=labels,
        links=links,
        started_at=at if status != "resolved" else None,
        ended_at=at if status == "resolved" else None,
    )


def _names(value: Any, field: str) -> list[str]:
    """A list of names as the templates render them: a JSON list, or one string."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [text for item in items if (text := as_text(item, field=field, max_length=500))]


def _entity_names(entities_data: Any) -> list[str]:
    if not isinstance(entities_data, Mapping):
        return []
    return _names(entities_data.get("names"), "entitiesData.names")


def _accumulated_tags(accumulations: Mapping) -> dict[str, list[str]]:
    """`accumulations` holds entity tags as `tag.<name>` lists (or a nested `tag` object)."""
    tags: dict[str, list[str]] = {}
    nested = accumulations.get("tag")
    if isinstance(nested, Mapping):
        for name, values in nested.items():
            tags[str(name)[:200]] = _names(values, f"accumulations.tag.{name}")
    for key, values in accumulations.items():
        if match := TAG_KEY.match(str(key)):
            tags[match.group(1)[:200]] = _names(values, f"accumulations.{key}")
    return {name: values for name, values in tags.items() if values}
