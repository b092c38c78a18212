"""Hand-checked outcomes for the Grafana bodies in shared/payloads/grafana-*/.

Unified alerting carries Grafana's fingerprint. Legacy alerting has none: the fingerprint is
the hash of orgId, dashboardId, panelId, ruleId and ruleName (missing ones as ""). None of these
bodies has a `severity` label or tag except the alerta one, so the rest get "warning".
The legacy "Test notification" bodies (ruleId 0) are kept as alerts: a manager pressing Test
in Grafana should see one arrive, and its "ok" resolves it.
"""

from alerts.sources.base import stable_hash

KIND = "grafana"
DIRECTORIES = ["grafana-unified", "grafana-legacy"]


def _alert(fingerprint: str, name: str, status: str = "firing", **fields) -> dict:
    return {
        "fingerprint": fingerprint,
        "status": status,
        "severity": "warning",
        "service": "",
        "name": name,
        **fields,
    }


TEST_RULE = stable_hash("0", "1", "1", "0", "Test rule")

EXPECTED = {
    # grafana-unified/
    "grafana-docs-firing-2-alerts.json": {
        "alerts": [
            _alert("c6eadffa33fcdf37", "High memory usage"),
            _alert("bc97ff14869b13e3", "High CPU usage"),
        ]
    },
    "zulip-v11-firing-values.json": {"alerts": [_alert("e6349a25f5ef0e9e", "Memory (copy)")]},
    "zulip-v9-firing.json": {"alerts": [_alert("d8a21484c9c25a60", "Test alert")]},
    "zulip-v9-resolved.json": {
        "alerts": [_alert("d8a21484c9c25a60", "Test alert", status="resolved")]
    },
    # grafana-legacy/: no orgId, dashboardId or panelId in the Grafana 6 body; the rule's tags
    # carry severity and service.
    "alerta-grafana6-alerting-with-tags.json": {
        "alerts": [
            _alert(
                stable_hash("", "", "", "58", "Testing -> Battery Voltage alert"),
                "Testing -> Battery Voltage alert",
                service="Physical",
            )
        ]
    },
    "grafana-docs-alerting.json": {
        "alerts": [
            _alert(stable_hash("1", "1", "2", "1", "Panel Title alert"), "Panel Title alert")
        ]
    },
    "zulip-alerting-test.json": {"alerts": [_alert(TEST_RULE, "Test rule")]},
    "zulip-ok.json": {"alerts": [_alert(TEST_RULE, "Test rule", status="resolved")]},
    # Alerting because of No Data, reported as state "alerting": a firing alert.
    "zulip-v7-no-data-alerting.json": {
        "alerts": [_alert(stable_hash("1", "2", "6", "3", "No Data alert"), "No Data alert")]
    },
}
