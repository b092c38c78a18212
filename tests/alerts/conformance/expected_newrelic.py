"""Hand-checked outcomes for the New Relic bodies in shared/payloads/.

The workflow fingerprint is the issue id (`id` in the default template). The created and closed
bodies share an issueUrl (New Relic's documentation placeholder) but not an id, so they are two
issues, not a pair. The legacy body is the alert channel's "Send test notification": incident 0,
severity INFO, empty target labels, so no service.
"""

KIND = "newrelic"
DIRECTORIES = ["newrelic"]

EXPECTED = {
    "alerta-legacy-alert-channel-open.json": {
        "alerts": [
            {
                "fingerprint": "0",
                "status": "firing",
                "severity": "info",
                "service": "",
                "name": "New Relic Alert - Test Condition",
            }
        ]
    },
    # ACTIVATED with trigger USER_ACTION is an acknowledgement; priority HIGH.
    "zulip-workflow-default-acknowledged.json": {
        "alerts": [
            {
                "fingerprint": "13bbcdca-f0b6-470d-b0be-b34583c58869",
                "status": "acknowledged",
                "severity": "high",
                "service": "",
                "name": "Storage on Host Exceeded Threshold",
            }
        ]
    },
    "zulip-workflow-default-closed.json": {
        "alerts": [
            {
                "fingerprint": "95a9344a-2590-48ce-8d83-07e28b6d22c6",
                "status": "resolved",
                "severity": "critical",
                "service": "",
                "name": "High CPU",
            }
        ]
    },
    "zulip-workflow-default-created.json": {
        "alerts": [
            {
                "fingerprint": "208c5e92-f250-40be-b7c2-50508c268c15",
                "status": "firing",
                "severity": "critical",
                "service": "",
                "name": "High CPU",
            }
        ]
    },
}
