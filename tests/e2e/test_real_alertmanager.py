"""A real Prometheus Alertmanager (Debian's package) drives IOC through its webhook receiver:
recorded payloads show what Alertmanager sent once, this shows what the installed one sends."""

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from alerts.ingest import deliveries_process_pending
from alerts.models import Alert, InboundEvent
from alerts.services import integration_create
from tests.base import Floor, wait_for
from tests.live import free_port

pytestmark = pytest.mark.e2e
BINARY = "prometheus-alertmanager"

CONFIG = """\
route:
  receiver: ioc
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: ioc
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


def when(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


class Alertmanager:
    def __init__(self, url: str):
        self.url = url

    def request(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                text = response.read()
                is_json = response.headers.get_content_type() == "application/json"
                return response.status, json.loads(text) if is_json and text.strip() else text
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from exc

    def ready(self) -> bool:
        try:
            return self.request("GET", "/-/ready")[0] == 200
        except OSError:
            return False


@pytest.fixture
def alertmanager_for(tmp_path):
    """Start an Alertmanager on loopback whose one receiver is the given webhook URL."""
    processes = []

    def start(webhook_url: str) -> Alertmanager:
        binary = shutil.which(BINARY)
        if binary is None:
            pytest.fail(
                f"{BINARY} is not installed; `make test` installs it (tests/services.sh), "
                f"or run: apt-get install {BINARY}"
            )
        config = tmp_path / "alertmanager.yml"
        config.write_text(CONFIG.format(url=webhook_url))
        port = free_port()
        log = open(tmp_path / "alertmanager.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no clustering: no gossip port to collide on
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append((process, log))
        manager = Alertmanager(f"http://127.0.0.1:{port}")
        wait_for(lambda: manager.ready() or process.poll() is not None, 20)
        assert process.poll() is None and manager.ready(), (
            tmp_path / "alertmanager.log"
        ).read_text()
        return manager

    yield start
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ioc_alert(**filters) -> Alert | None:
    # Nothing runs the Celery task the webhook queued; the test process is the worker.
    deliveries_process_pending()
    return Alert.objects.filter(**filters).first()


def test_it_follows_an_alert_fired_and_resolved_in_alertmanager(live_asgi, alertmanager_for):
    floor = Floor()
    _integration, token = integration_create(
        name="Alertmanager", kind="alertmanager", team=floor.first_line
    )
    alertmanager = alertmanager_for(f"{live_asgi.url}/integrations/{token}/")
    # Started a minute ago, so that "ended now" below is after the start however fast this runs:
    # Alertmanager refuses an alert that ends before it starts.
    started = datetime.now(UTC) - timedelta(minutes=1)
    alert = {
        "labels": {
            "alertname": "LedgerDiskFull",
            "severity": "critical",
            "instance": "db-03:9100",
            "service": "ledger",
        },
        "annotations": {"summary": "Ledger disk 97% full on db-03"},
        "startsAt": when(started),
        "endsAt": when(started + timedelta(hours=1)),
    }

    assert alertmanager.request("POST", "/api/v2/alerts", [alert])[0] == 200
    assert wait_for(lambda: ioc_alert() is not None, 30), list(
        InboundEvent.objects.values("status", "error", "result")
    )
    _, reported = alertmanager.request("GET", "/api/v2/alerts")
    [fingerprint] = [item["fingerprint"] for item in reported]
    created = Alert.objects.get()
    assert created.fingerprint == fingerprint
    assert created.status == "firing"
    assert created.severity == "critical"
    assert created.service == "ledger"
    assert created.source == "db-03"
    assert created.summary == "Ledger disk 97% full on db-03"
    assert created.incident is not None

    # Alertmanager resolves an alert whose endsAt has passed, and says so at the next flush.
    ended = datetime.now(UTC)
    alert["endsAt"] = when(ended)
    assert alertmanager.request("POST", "/api/v2/alerts", [alert])[0] == 200
    assert wait_for(lambda: ioc_alert(status="resolved") is not None, 30), list(
        InboundEvent.objects.values("status", "error", "result")
    )
    resolved = Alert.objects.get()
    assert resolved.pk == created.pk
    assert resolved.resolved_at == ended  # Alertmanager's endsAt, to the microsecond
    user_agents = {event.headers.get("User-Agent", "") for event in InboundEvent.objects.all()}
    assert all(agent.startswith("Alertmanager/") for agent in user_agents), user_agents
