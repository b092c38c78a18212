"""Google Cloud Monitoring incidents, from a webhook notification channel (schema 1.1 and 1.2).

One incident per delivery; `incident_id` is the same when it opens and when it closes, so it is
the fingerprint. Times are epoch seconds; 1.2 sends observed and threshold values as strings.
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

SEVERITY_MAP = {"critical": "critical", "error": "high", "warning": "warning"}
# What Cloud Monitoring sends for a policy without a severity: the integration's default applies.
NO_SEVERITY = "no severity"
STATES = {"open": "firing", "closed": "resolved"}
FIELD_LABELS = (
    "condition_name",
    "resource_type_display_name",
    "scoping_project_id",
    "observed_value",
    "threshold_value",
)


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    incident = payload.get("incident")
    if not isinstance(incident, Mapping):
        raise PayloadError(
            "'incident' must be an object: is this a Cloud Monitoring webhook notification?",
            field="incident",
        )

    def text(key: str, **kwargs) -> str:
        return as_text(incident.get(key), field=f"incident.{key}", **kwargs)

    incident_id = text("incident_id", required=True, max_length=255)
    state = text("state").lower()
    status = STATES.get(state)
    if status is None:
        raise PayloadError("'incident.state' must be open or closed", field="incident.state")

    user_labels = {
        **as_labels(_get(incident, "metadata", "user_labels"), field="incident.metadata"),
        **as_labels(incident.get("policy_user_labels"), field="incident.policy_user_labels"),
    }
    resource = as_labels(_get(incident, "resource", "labels"), field="incident.resource.labels")
    labels = {
        **user_labels,
        **{f"resource.{key}": value for key, value in resource.items()},
        "resource_type": as_text(_get(incident, "resource", "type"), field="incident.resource"),
        "metric_type": as_text(_get(incident, "metric", "type"), field="incident.metric"),
        "version": as_text(payload.get("version"), field="version"),
        **{key: text(key) for key in FIELD_LABELS},
    }
    labels = {key: value for key, value in labels.items() if value}

    # Older policies carry their severity as a user label, from before Cloud Monitoring had one.
    raw_severity = text("severity") or user_labels.get("severity", "")
    if raw_severity.lower() == NO_SEVERITY:
        raw_severity = ""
    severity = severity_from(raw_severity, severity_mapping(SEVERITY_MAP, config), labels)

    name = text("policy_name", max_length=255) or text("condition_name", max_length=255)
    url = text("url", max_length=2000)
    return [
        ParsedAlert(
            fingerprint=incident_id,
            summary=text("summary", max_length=2000) or name or incident_id,
            status=status,
            severity=severity,
            name=name,
            description=_documentation(incident.get("documentation")),
            source=_source(resource, incident),
            service=user_labels.get("service", ""),
            labels=labels,
            links=(url,) if url.startswith("https://") else (),
            started_at=parse_time(incident.get("started_at")),
            ended_at=parse_time(incident.get("ended_at")) if status == "resolved" else None,
        )
    ]


def _source(resource: Mapping[str, str], incident: Mapping[str, Any]) -> str:
    """The affected host: a `host` label (uptime checks), the resource's display name (a VM's
    name, friendlier than its numeric instance_id), the instance id, else the resource name."""
    display_name, resource_name = (
        as_text(incident.get(key), field=f"incident.{key}", max_length=255)
        for key in ("resource_display_name", "resource_name")
    )
    source = resource.get("host") or display_name or resource.get("instance_id") or resource_name
    return source


def _get(incident: Mapping[str, Any], key: str, inner: str) -> Any:
    """incident[key][inner], or None where the object is missing or not an object."""
    outer = incident.get(key)
    return outer.get(inner) if isinstance(outer, Mapping) else None


def _documentation(documentation: Any) -> str:
    """Policy documentation: {"content", "mime_type"}, or a plain string in some senders."""
    if isinstance(documentation, Mapping):
        documentation = documentation.get("content")
    return as_text(documentation, field="incident.documentation.content")
