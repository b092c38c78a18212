"""Hand-checked outcomes for the Datadog bodies in shared/payloads/.

The CodeNow pair has no alert id key: the monitor id (309811) is read from the body's monitor
links and the group from the title's scope "{host:i-3b93aafb}", so Triggered and Recovered share
a fingerprint. Neither has a priority or alert_type: no severity ("warning" is the integration
default), and no service tag.

The SlarOps body renames keys (`transition`, `aggregate`): the monitor id (221164084) is in its
body links, the group is its aggregation key, and alert_priority P1 maps to critical.
"""

from alerts.sources.base import stable_hash

KIND = "datadog"
DIRECTORIES = ["datadog"]

DOCK = stable_hash("309811", "host:i-3b93aafb")

EXPECTED = {
    "codenow-custom-triggered.json": {
        "alerts": [
            {
                "fingerprint": DOCK,
                "status": "firing",
                "severity": "warning",
                "service": "",
                "name": "Dock is almost out of memory...",
            }
        ]
    },
    "codenow-custom-recovered.json": {
        "alerts": [
            {
                "fingerprint": DOCK,
                "status": "resolved",
                "severity": "warning",
                "service": "",
                "name": "Dock is almost out of memory...",
            }
        ]
    },
    "slar-triggered-default-payload-plus-custom.json": {
        "alerts": [
            {
                "fingerprint": stable_hash("221164084", "06ade3da0286048d242ea8e46f521c93"),
                "status": "firing",
                "severity": "critical",
                "service": "",
                "name": "High tracking",
            }
        ]
    },
}
