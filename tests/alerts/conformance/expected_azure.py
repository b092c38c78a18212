"""Hand-checked outcomes for the Azure Monitor common alert schema bodies in shared/payloads/.

The fingerprint is essentials.alertId; the two resolved samples share theirs (they are the same
docs alert, one with customProperties). Sev4 and Sev3 both map to info. The customProperties are
Key1/Key2: no service.
"""

KIND = "azure"
DIRECTORIES = ["azure-monitor"]

WCUS_ALERT = (
    "/subscriptions/<subscription ID>/providers/Microsoft.AlertsManagement/alerts/"
    "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
)
WCUS_RESOLVED = {
    "alerts": [
        {
            "fingerprint": WCUS_ALERT,
            "status": "resolved",
            "severity": "info",
            "service": "",
            "name": "WCUS-R2-Gen2",
        }
    ]
}

EXPECTED = {
    "azure-docs-common-schema-log-v2-fired.json": {
        "alerts": [
            {
                "fingerprint": (
                    "/subscriptions/12345a-1234b-123c-123d-12345678e/providers/"
                    "Microsoft.AlertsManagement/alerts/12345a-1234b-123c-123d-12345678e"
                ),
                "status": "firing",
                "severity": "info",
                "service": "",
                "name": "AcmeRule",
            }
        ]
    },
    "azure-docs-common-schema-metric-resolved.json": WCUS_RESOLVED,
    "azure-docs-common-schema-resolved-customprops.json": WCUS_RESOLVED,
}
