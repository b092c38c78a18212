"""The benchmark's deliveries: what a busy floor's senders post, made here (not recorded).

A cycle of four requests: a generic JSON alert with the token in the path, one with it in an
`Authorization: Bearer` header, and two Alertmanager v4 notifications of three alerts each, so two
alerts per request on average. They are drawn from a fixed population of hosts and checks: most
fire again and again (deduplicated into one alert), some resolve, and new ones keep appearing.
"""

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

ALERTS_PER_REQUEST = 2.0
CHECKS = [
    ("DiskFull", "critical", "Disk {pct}% full on {host}", "storage"),
    ("HighLatency", "warning", "p99 latency {ms} ms on {host}", "api"),
    ("CpuSaturated", "warning", "CPU {pct}% busy on {host} for 10 minutes", "compute"),
    ("ReplicationLag", "high", "Replica {host} is {s} s behind", "payments-db"),
    ("ErrorRate", "critical", "5xx rate {pct}% on {host}", "checkout"),
    ("CertExpiry", "info", "Certificate on {host} expires in {d} days", "edge"),
]
HOSTS = [f"{role}-{n:02d}" for role in ("db", "api", "web", "cache", "queue") for n in range(60)]


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: str
    alerts: int
    kind: str  # the integration's kind


def _values(rng: random.Random) -> dict:
    return {
        "pct": rng.randint(80, 99),
        "ms": rng.randint(400, 4000),
        "s": rng.randint(30, 900),
        "d": rng.randint(1, 14),
    }


def generic_alert(rng: random.Random) -> dict:
    name, severity, summary, service = rng.choice(CHECKS)
    host = rng.choice(HOSTS)
    body = {
        "summary": summary.format(host=host, **_values(rng)),
        "severity": severity,
        "source": host,
        "service": service,
        "name": name,
        "dedup_key": f"{name}:{host}",
        "description": f"{name} reported by the monitoring agent on {host}.",
        "labels": {"env": "prod", "region": rng.choice(["eu-west", "eu-north"]), "team": "ops"},
    }
    if rng.random() < 0.1:
        body["status"] = "resolved"
    return body


def alertmanager_notification(rng: random.Random, *, alerts: int, now: datetime) -> dict:
    name, severity, summary, service = rng.choice(CHECKS)
    status = "resolved" if rng.random() < 0.1 else "firing"
    started = now - timedelta(minutes=rng.randint(1, 600))
    items = []
    for host in rng.sample(HOSTS, alerts):
        labels = {
            "alertname": name,
            "severity": severity,
            "instance": f"{host}:9100",
            "job": "node",
            "service": service,
            "env": "prod",
        }
        items.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {
                    "summary": summary.format(host=host, **_values(rng)),
                    "runbook_url": f"https://runbooks.example.org/{name}",
                },
                "startsAt": started.isoformat().replace("+00:00", "Z"),
                "endsAt": (now if status == "resolved" else datetime(1, 1, 1, tzinfo=UTC))
                .isoformat()
                .replace("+00:00", "Z"),
                "generatorURL": f"http://prometheus:9090/graph?g0.expr={name}",
                "fingerprint": hashlib.sha256(f"{name}:{host}".encode()).hexdigest()[:16],
            }
        )
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "ioc",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "severity": severity, "service": service},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": items,
    }


def requests_mix(*, generic_token: str, alertmanager_token: str, count: int = 400) -> list[Request]:
    """`count` requests (a multiple of four), the same for every run (fixed seed)."""
    rng = random.Random(20261125)  # test data, not secrets
    now = datetime.now(UTC)
    json_headers = {"Content-Type": "application/json", "User-Agent": "ioc-bench"}
    bearer = {**json_headers, "Authorization": f"Bearer {generic_token}"}
    out = []
    for _ in range(count // 4):
        path = f"/integrations/{generic_token}/"
        out.append(Request(path, json_headers, json.dumps(generic_alert(rng)), 1, "generic"))
        out.append(Request("/integrations/", bearer, json.dumps(generic_alert(rng)), 1, "generic"))
        for _ in range(2):
            body = alertmanager_notification(rng, alerts=3, now=now)
            out.append(
                Request(
                    f"/integrations/{alertmanager_token}/",
                    {**json_headers, "User-Agent": "Alertmanager/0.27.0"},
                    json.dumps(body),
                    3,
                    "alertmanager",
                )
            )
    return out
