"""Hand-checked outcomes for the Zabbix bodies in shared/payloads/.

All three are the community shape: the trigger id comes from the link (triggerid=14032), so
the problem and the OK, whose event ids differ (10528, 10529), share one fingerprint. The name is
the trigger text. Average maps to warning, Disaster to critical. No tags: no service.
"""

KIND = "zabbix"
DIRECTORIES = ["zabbix"]


def _alert(status: str, severity: str, name: str) -> dict:
    return {
        "alerts": [
            {
                "fingerprint": "trigger:14032",
                "status": status,
                "severity": severity,
                "service": "",
                "name": name,
            }
        ]
    }


UNREACHABLE = "Zabbix agent on www.example.com is unreachable for 5 minutes"

EXPECTED = {
    "zulip-ok.json": _alert("resolved", "warning", "Zabbix agent on www.example.com is reachable"),
    "zulip-problem-average.json": _alert("firing", "warning", UNREACHABLE),
    "zulip-problem-disaster.json": _alert("firing", "critical", UNREACHABLE),
}
