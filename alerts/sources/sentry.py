"""Sentry integration-platform webhooks (an internal integration's webhook URL).

What a body is comes only from the `Sentry-Hook-Resource` header: `event_alert` (an issue alert
rule fired), `issue` (created, resolved, unresolved, archived...), `metric_alert` (critical,
warning, resolved). Other resources (installation, comment, error...) carry no alert. An event
alert and the issue webhooks share the fingerprint `issue:<issue id>`, so resolving the issue in
Sentry resolves the alert its rule raised. Bodies can be large (stack traces): only the fields
named here are read.
"""

import re
from collections.abc import Mapping
from typing import Any

from .base import (
    IgnoredPayload,
    ParsedAlert,
    PayloadError,
    as_text,
    non_empty,
    parse_time,
    severity_from,
    severity_mapping,
)

CONTENT_TYPES = ("application/json",)

SEVERITY = {
    "fatal": "critical",
    "error": "high",
    "warning": "warning",
    "info": "info",
    # A metric alert's action is its severity.
    "critical": "critical",
}

ISSUE_ACTIONS = {"created": "firing", "unresolved": "firing", "resolved": "resolved"}
METRIC_ACTIONS = {"critical": "firing", "warning": "firing", "resolved": "resolved"}
ALERT_RESOURCES = ("event_alert", "issue", "metric_alert")
MAX_TAGS = 50
# Who hit the error (id, e-mail or IP address) is personal data an alert does not need.
SKIPPED_TAGS = {"user"}

# https://sentry.io/api/0/projects/<org>/<project>/events/<id>/
PROJECT_IN_URL = re.compile(r"/projects/[^/]+/([^/]+)/events/")
ISSUE_IN_URL = re.compile(r"/issues/(\d+)/?")


def parse(payload: Any, headers: Mapping[str, str], *, config=None) -> list[ParsedAlert]:
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object")
    resource = _resource(payload, headers)
    if resource not in ALERT_RESOURCES:
        raise IgnoredPayload(f"Sentry '{resource}' webhooks carry no alert")
    data = _object(payload.get("data"), "data", required=True)
    action = as_text(payload.get("action"), field="action").lower()
    mapping = severity_mapping(SEVERITY, config)
    if resource == "event_alert":
        return [_event_alert(data, mapping)]
    if resource == "issue":
        return [_issue(action, data, mapping)]
    return [_metric_alert(action, data, mapping)]


def _resource(payload: Mapping, headers: Mapping[str, str]) -> str:
    lowered = {str(name).lower().replace("_", "-"): value for name, value in headers.items()}
    resource = as_text(lowered.get("sentry-hook-resource"), field="Sentry-Hook-Resource").lower()
    if resource:
        return resource
    # Without the header (a proxy dropped it), the three alert bodies still differ in shape.
    data = payload.get("data")
    shapes = (("metric_alert", "metric_alert"), ("event", "event_alert"), ("issue", "issue"))
    for key, found in shapes:
        if isinstance(data, Mapping) and key in data:
            return found
    raise PayloadError(
        "the Sentry-Hook-Resource header is missing and the body is not an issue alert, issue "
        "or metric alert webhook",
        field="Sentry-Hook-Resource",
    )


def _event_alert(data: Mapping, mapping: Mapping[str, str]) -> ParsedAlert:
    event = _object(data.get("event"), "data.event", required=True)
    issue_url = as_text(event.get("issue_url"), field="data.event.issue_url")
    issue_id = as_text(event.get("issue_id"), field="data.event.issue_id")
    if not issue_id and (match := ISSUE_IN_URL.search(issue_url)):
        issue_id = match.group(1)
    if not issue_id:
        raise PayloadError("'data.event.issue_id' is required", field="data.event.issue_id")
    labels = _tags(event.get("tags"))
    project_match = PROJECT_IN_URL.search(as_text(event.get("url"), field="data.event.url"))
    project = project_match.group(1) if project_match else ""
    severity = severity_from(event.get("level"), mapping, labels)
    rule = as_text(data.get("triggered_rule"), field="data.triggered_rule", max_length=255)
    if not rule:
        issue_alert = _object(data.get("issue_alert"), "data.issue_alert")
        rule = as_text(issue_alert.get("title"), field="data.issue_alert.title", max_length=255)
    title = as_text(event.get("title") or event.get("message"), field="data.event.title")
    labels.update(non_empty(project=project, issue_id=issue_id, rule=rule))
    web_url = as_text(event.get("web_url"), field="data.event.web_url")
    return ParsedAlert(
        fingerprint=f"issue:{issue_id}",
        summary=(title or rule or f"Sentry issue {issue_id}")[:2000],
        severity=severity,
        name=rule or title,
        description=as_text(event.get("culprit"), field="data.event.culprit"),
        # server_name is the host the SDK ran on, where it reports one.
        source=labels.get("server_name", ""),
        service=labels.get("service") or project,
        labels=labels,
        links=(web_url,) if web_url else (),
        started_at=parse_time(event.get("datetime")) or parse_time(event.get("timestamp")),
    )


def _issue(action: str, data: Mapping, mapping: Mapping[str, str]) -> ParsedAlert:
    if not action:
        raise PayloadError("'action' is required", field="action")
    if action not in ISSUE_ACTIONS:
        # Archiving (formerly "ignoring") mutes an issue without fixing it, and assigning changes
        # nobody's alert: neither opens nor closes anything here.
        raise IgnoredPayload(f"Sentry issue {action}: no change to the alert")
    issue = _object(data.get("issue"), "data.issue", required=True)
    issue_id = as_text(issue.get("id"), field="data.issue.id", required=True)
    project = _object(issue.get("project"), "data.issue.project")
    slug = as_text(project.get("slug"), field="data.issue.project.slug", max_length=200)
    labels: dict[str, str] = {}
    severity = severity_from(issue.get("level"), mapping, labels)
    labels.update(
        non_empty(
            project=slug,
            issue_id=issue_id,
            short_id=as_text(issue.get("shortId"), field="data.issue.shortId"),
            count=as_text(issue.get("count"), field="data.issue.count"),
            substatus=as_text(issue.get("substatus"), field="data.issue.substatus"),
        )
    )
    title = as_text(issue.get("title"), field="data.issue.title", max_length=2000)
    web_url = as_text(issue.get("web_url") or issue.get("permalink"), field="data.issue.web_url")
    return ParsedAlert(
        fingerprint=f"issue:{issue_id}",
        summary=title or f"Sentry issue {issue_id}",
        status=ISSUE_ACTIONS[action],
        severity=severity,
        name=title,
        description=as_text(issue.get("culprit"), field="data.issue.culprit"),
        service=slug,
        labels=labels,
        links=(web_url,) if web_url else (),
        started_at=parse_time(issue.get("firstSeen")),
    )


def _metric_alert(action: str, data: Mapping, mapping: Mapping[str, str]) -> ParsedAlert:
    if action not in METRIC_ACTIONS:
        raise PayloadError(
            "a metric alert's 'action' must be critical, warning or resolved", field="action"
        )
    incident = _object(data.get("metric_alert"), "data.metric_alert", required=True)
    incident_id = as_text(incident.get("id"), field="data.metric_alert.id", required=True)
    rule = _object(incident.get("alert_rule"), "data.metric_alert.alert_rule")
    name = as_text(rule.get("name") or incident.get("title"), field="alert_rule.name")[:255]
    projects = incident.get("projects") or rule.get("projects") or []
    if not isinstance(projects, list):
        raise PayloadError("'data.metric_alert.projects' must be a list", field="projects")
    project = as_text(projects[0], field="data.metric_alert.projects") if projects else ""
    status = METRIC_ACTIONS[action]
    labels: dict[str, str] = {}
    severity = severity_from(action, mapping, labels) if status == "firing" else None
    labels.update(
        non_empty(
            project=", ".join(as_text(p, field="projects") for p in projects),
            aggregate=as_text(rule.get("aggregate"), field="alert_rule.aggregate"),
            query=as_text(rule.get("query"), field="alert_rule.query"),
        )
    )
    title = as_text(data.get("description_title"), field="data.description_title")
    web_url = as_text(data.get("web_url"), field="data.web_url")
    return ParsedAlert(
        fingerprint=f"metric_alert:{incident_id}",
        summary=(title or name or f"Sentry metric alert {incident_id}")[:2000],
        status=status,
        severity=severity,
        name=name,
        description=as_text(data.get("description_text"), field="data.description_text"),
        service=project,
        labels=labels,
        links=(web_url,) if web_url else (),
        started_at=parse_time(incident.get("date_started")),
        ended_at=parse_time(incident.get("date_closed")) if status == "resolved" else None,
    )


def _object(value: Any, field: str, *, required: bool = False) -> Mapping:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise PayloadError(f"'{field}' must be an object", field=field)
    return value


def _tags(value: Any) -> dict[str, str]:
    """Event tags: a list of [key, value] pairs (or {"key", "value"} objects)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise PayloadError("'data.event.tags' must be a list", field="data.event.tags")
    tags: dict[str, str] = {}
    for item in value[:MAX_TAGS]:
        if isinstance(item, list) and len(item) == 2:
            key, text = item
        elif isinstance(item, Mapping):
            key, text = item.get("key"), item.get("value")
        else:
            continue
        if isinstance(key, str) and key not in SKIPPED_TAGS and isinstance(text, str | int | float):
            tags[key[:200]] = str(text)[:2000]
    return tags
