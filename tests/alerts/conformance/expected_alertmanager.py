"""Hand-checked outcomes for the Alertmanager bodies in shared/payloads/alertmanager/.

Old Alertmanagers send no per-alert fingerprint: it is then the hash of the sorted labels,
written out here as `name=value` parts. Severities not in the mapping (CloudEon's "exception")
and alerts with no severity label get the integration default, "warning".
"""

from alerts.sources.base import stable_hash

KIND = "alertmanager"
DIRECTORIES = ["alertmanager"]

FIRE = stable_hash("alertname=Fire", "severity=critical")
CPU = "主机CPU使用率"

EXPECTED = {
    "alertmanager-bot-firing.json": {
        "alerts": [
            {
                "fingerprint": FIRE,
                "status": "firing",
                "severity": "critical",
                "service": "",
                "name": "Fire",
            }
        ]
    },
    # Same labels as the firing body: same fingerprint, so it resolves that alert.
    "alertmanager-bot-resolved.json": {
        "alerts": [
            {
                "fingerprint": FIRE,
                "status": "resolved",
                "severity": "critical",
                "service": "",
                "name": "Fire",
            }
        ]
    },
    "cloudeon-firing-3-alerts-chinese.json": {
        "alerts": [
            {
                "fingerprint": fp,
                "status": "firing",
                "severity": "warning",
                "service": "",
                "name": CPU,
            }
            for fp in ("72a2002704e27a2e", "ba18df1a61fe8e0b", "5a6e9db40eb24b04")
        ]
    },
    # Its level is in `alertLevel`, not `severity`: default severity.
    "cloudeon-resolved-chinese.json": {
        "alerts": [
            {
                "fingerprint": "20453f227ff62f33",
                "status": "resolved",
                "severity": "warning",
                "service": "",
                "name": "Grafana进程存活",
            }
        ]
    },
    "fluentd-log-firing-2-alerts.json": {
        "alerts": [
            {
                "fingerprint": "848d4fa77803ce9d",
                "status": "firing",
                "severity": "warning",
                "service": "",
                "name": "InstanceDown",
            },
            {
                "fingerprint": "e4a26b1cdb7fcfe4",
                "status": "firing",
                "severity": "critical",
                "service": "",
                "name": "SlowResponse2",
            },
        ]
    },
    # No per-alert status either: the group's "firing" applies.
    "prometheus-msteams-firing-legacy.json": {
        "alerts": [
            {
                "fingerprint": stable_hash(
                    "alertname=high_memory_load",
                    "instance=instance-with-hyphen_and_underscore",
                    "job=docker_nodes",
                    "monitor=master",
                    "severity=warning",
                ),
                "status": "firing",
                "severity": "warning",
                "service": "",
                "name": "high_memory_load",
            }
        ]
    },
    "zulip-firing-2-alerts.json": {
        "alerts": [
            {
                "fingerprint": fp,
                "status": "firing",
                "severity": "critical",
                "service": "",
                "name": "High CPU Temperature",
            }
            for fp in ("a1bc48475b20e73d", "c2ea85182f28cbd9")
        ]
    },
}
