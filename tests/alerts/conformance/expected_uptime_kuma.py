"""Hand-checked outcomes for the Uptime Kuma bodies in shared/payloads/.

All three are monitor 89 ("test"): two down heartbeats (status 0) and the up (status 1) that
resolves them. Kuma sends no severity and the monitor has no tags: the integration default
("warning") applies and there is no service.
"""

KIND = "uptime_kuma"
DIRECTORIES = ["uptime-kuma"]

DOWN = {
    "alerts": [
        {
            "fingerprint": "monitor:89",
            "status": "firing",
            "severity": "warning",
            "service": "",
            "name": "test",
        }
    ]
}

EXPECTED = {
    "scn-down-enotfound.json": DOWN,
    "scn-down-timeout-compact.json": DOWN,
    "scn-up-200-ok.json": {
        "alerts": [
            {
                "fingerprint": "monitor:89",
                "status": "resolved",
                "severity": "warning",
                "service": "",
                "name": "test",
            }
        ]
    },
}
