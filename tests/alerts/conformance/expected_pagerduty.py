"""Hand-checked outcomes for the PagerDuty Events API v2 bodies in shared/payloads/.

The docs' acknowledge and resolve use dedup_key "dedupkeyhere", not the trigger's
"samplekeyhere": they act on an alert of their own. They carry no severity ("warning" is the
integration default) and no name. Neither trigger has custom_details.service: no service.
"""

KIND = "pagerduty"
DIRECTORIES = ["pagerduty-events-v2"]

EXPECTED = {
    "pd-docs-acknowledge.json": {
        "alerts": [
            {
                "fingerprint": "dedupkeyhere",
                "status": "acknowledged",
                "severity": "warning",
                "service": "",
                "name": "",
            }
        ]
    },
    "pd-docs-resolve.json": {
        "alerts": [
            {
                "fingerprint": "dedupkeyhere",
                "status": "resolved",
                "severity": "warning",
                "service": "",
                "name": "",
            }
        ]
    },
    # The name is payload.class.
    "pd-docs-trigger.json": {
        "alerts": [
            {
                "fingerprint": "samplekeyhere",
                "status": "firing",
                "severity": "info",
                "service": "",
                "name": "deploy",
            }
        ]
    },
    "pd-openapi-trigger-with-dedup.json": {
        "alerts": [
            {
                "fingerprint": "srv01/mysql",
                "status": "firing",
                "severity": "critical",
                "service": "",
                "name": "disk",
            }
        ]
    },
}
