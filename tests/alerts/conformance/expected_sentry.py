"""Hand-checked outcomes for the Sentry bodies in shared/payloads/.

The resource type travels only in the Sentry-Hook-Resource header, so each file names the header
Sentry sends with it. The event alert's project slug ("front-end") is read from data.event.url;
the issue's from data.issue.project.slug. Both levels are "error", hence "high".
"""

KIND = "sentry"
DIRECTORIES = ["sentry"]

EXPECTED = {
    "sentry-docs-event-alert-triggered.json": {
        "headers": {"Sentry-Hook-Resource": "event_alert"},
        "alerts": [
            {
                "fingerprint": "issue:1117540176",
                "status": "firing",
                "severity": "high",
                "service": "front-end",
                "name": "Very Important Alert Rule!",
            }
        ],
    },
    "zulip-issue-resolved.json": {
        "headers": {"Sentry-Hook-Resource": "issue"},
        "alerts": [
            {
                "fingerprint": "issue:1638821441",
                "status": "resolved",
                "severity": "high",
                "service": "zulip-integration-testing",
                "name": "Exception: program has entered an invalid state.",
            }
        ],
    },
}
