"""Hand-checked outcomes for the Google Cloud Monitoring bodies in shared/payloads/.

The fingerprint is incident.incident_id, shared by each open/closed pair. None of the bodies has
a severity ("warning" is the integration default) or a `service` user label. The name is the
policy name.
"""

KIND = "gcp"
DIRECTORIES = ["gcp-monitoring"]


def _incident(incident_id: str, status: str, policy: str) -> dict:
    alert = {"fingerprint": incident_id, "status": status, "severity": "warning", "service": ""}
    return {"alerts": [{**alert, "name": policy}]}


EXPECTED = {
    "agilicus-v1.2-uptime-open.json": _incident("0.ligwyr056k2l", "firing", "api - noc - users"),
    "agilicus-v1.2-uptime-closed.json": _incident(
        "0.ligwyr056k2l", "resolved", "api - noc - users"
    ),
    "alerta-stackdriver-v1.1-open.json": _incident(
        "f2e08c333dc64cb09f75eaab355393bz", "firing", "Webserver Health"
    ),
    "alerta-stackdriver-v1.1-closed.json": _incident(
        "f2e08c333dc64cb09f75eaab355393bz", "resolved", "Webserver Health"
    ),
    "cloudforet-v1.2-metric-threshold-open.json": _incident(
        "0.mtdi83m6w8ao", "firing", "choonho-server-cpu-alert-policy-test"
    ),
}
