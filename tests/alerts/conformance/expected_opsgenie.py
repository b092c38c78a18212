"""Hand-checked outcomes for the Opsgenie create-alert bodies in shared/payloads/.

The alias is the fingerprint; the minimal body has none, so the fingerprint is the hash of
message, entity and source (both empty). No body names a service (no `service` detail and no
`service:` tag). Absent priority is Opsgenie's default P3: "warning".
"""

from alerts.sources.base import stable_hash

KIND = "opsgenie"
DIRECTORIES = ["opsgenie-create-alert"]

SAMPLE = {
    "fingerprint": "Life is too short for no alias",
    "status": "firing",
    "severity": "critical",
    "service": "",
    "name": "An example alert message",
}

EXPECTED = {
    "airflow-docs-sample-all-responder-types.json": {"alerts": [SAMPLE]},
    "shoutrrr-full-all-fields.json": {"alerts": [SAMPLE]},
    "shoutrrr-minimal-message-only.json": {
        "alerts": [
            {
                "fingerprint": stable_hash("hello world", "", ""),
                "status": "firing",
                "severity": "warning",
                "service": "",
                "name": "hello world",
            }
        ]
    },
}
