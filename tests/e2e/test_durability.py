"""An accepted alert is never lost, even if a worker, Redis or the web process dies right after.

Real processes throughout: a private redis-server (the machine's shared one on 6379 is never
stopped), IOC under uvicorn, Celery workers and beat, all on this run's test database.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F, Sum

from alerts.accept import delivery_store
from alerts.ingest import deliveries_sweep
from alerts.models import Alert, InboundEvent
from incidents.models import Incident, IncidentEvent
from tests.base import Floor, wait_for
from tests.live import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = settings.DATABASES["default"]
    return (
        f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/"
        f"{connection.settings_dict['NAME']}"
    )


def ioc_env(redis_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis_url, **extra}


class Processes:
    """Child processes, each in its own session so that a kill takes its children too."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.running.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def celery(self, name: str, env: dict[str, str], *args: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "ioc", *args, "--loglevel=INFO"]
        process = self.start(name, command, env)
        ready = "ready" if args[0] == "worker" else "beat: Starting"
        assert wait_for(lambda: ready in self.log(name), 30), self.log(name)
        return process

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def processes(tmp_path):
    started = Processes(tmp_path)
    yield started
    started.stop_all()


class RedisServer:
    """A private redis-server that a test may kill and start again on the same port."""

    def __init__(self, processes: Processes):
        self.processes = processes
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = self.processes.start(f"redis-{self.port}", command, dict(os.environ))
        assert wait_for(self.answers, 10), "redis-server did not start"
        return self

    def kill(self) -> None:
        self.processes.kill(self.process)
        assert not self.answers()

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16) == b"+PONG\r\n"
        except OSError:
            return False


def http(url: str, body: dict | None = None) -> tuple[int, dict, float]:
    """(status, JSON body, seconds taken) of a GET, or of a POST when there is a body."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    return status, json.loads(payload or b"{}"), time.monotonic() - started


def web_servers(processes: Processes, redis_url: str, *names: str) -> dict[str, tuple]:
    """{name: (base URL, process)} of uvicorn web processes, started side by side."""
    servers = {}
    for name in names:
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "ioc.asgi:application", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--lifespan", "off", "--no-access-log"]
        servers[name] = (
            f"http://127.0.0.1:{port}",
            processes.start(name, command, ioc_env(redis_url)),
        )

    def up(base: str) -> bool:
        try:
            return http(base + "/healthz")[0] == 200
        except OSError:
            return False

    for name, (base, _) in servers.items():
        assert wait_for(lambda base=base: up(base), 30), processes.log(name)
    return servers


def age_pending_deliveries() -> int:
    """The sweep takes only deliveries pending for over a minute, so that it never races a kick.
    Rather than wait that minute, move the pending rows' arrival two minutes back: the same rows,
    the same sweep, only the clock is fast-forwarded."""
    return InboundEvent.objects.filter(status=InboundEvent.Status.PENDING).update(
        received_at=F("received_at") - timedelta(minutes=2)
    )


# --- Redis down -----------------------------------------------------------------------------------


def test_it_processes_alerts_accepted_while_redis_was_down_even_by_a_killed_web_process(
    transactional_db, processes
):
    floor = Floor()
    redis = RedisServer(processes).start()
    servers = web_servers(processes, redis.url, "web", "web-killed")
    base, _ = servers["web"]
    hooks = [f"{base}/integrations/{floor.token}/" for base, _ in servers.values()]

    redis.kill()
    status, health, _ = http(base + "/healthz")
    assert (status, health["redis"]) == (200, "down")

    # Half to each web process; the second is killed as soon as it has answered.
    summaries = [f"Redis outage alert {n}" for n in range(20)]
    answers = [
        http(hooks[n // 10], {"summary": summary, "source": "db-1"})
        for n, summary in enumerate(summaries)
    ]
    processes.kill(servers["web-killed"][1])
    assert [status for status, _, _ in answers] == [202] * 20
    latencies = sorted(seconds for _, _, seconds in answers)
    # At most one request waits the 0.2 s for the failed publish (none where the kick runs after
    # the answer); the later ones skip publishing for a while.
    assert latencies[-1] < 1.0, latencies
    print(
        f"202 while Redis is down: p50 {latencies[10] * 1000:.0f} ms, max "
        f"{latencies[-1] * 1000:.0f} ms"
    )
    assert wait_for(lambda: "could not queue delivery processing" in processes.log("web"), 5)
    assert InboundEvent.objects.filter(status="pending").count() == 20
    assert not Alert.objects.exists()
    status, health, _ = http(base + "/healthz")
    assert (status, health["redis"], health["pending_deliveries"]) == (200, "down", 20)

    # Out of the request, kombu goes on trying to connect for about 6 s, and a blip shorter than
    # that ends with the kick published after all. Outlast it: only the sweep can recover these.
    assert wait_for(lambda: "publish gave up" in processes.log("web"), 15)

    # Redis comes back, empty (it kept nothing on disk), with a worker and beat; no new webhook.
    redis.start()
    back_at = time.monotonic()
    env = ioc_env(redis.url)
    processes.celery(
        "worker", env, "worker", "--concurrency=1", "--without-mingle", "--without-gossip"
    )
    schedule = processes.tmp_path / "celerybeat-schedule"
    processes.celery("beat", env, "beat", f"--schedule={schedule}")
    assert age_pending_deliveries() == 20

    def none_pending() -> bool:
        return not InboundEvent.objects.filter(status="pending").exists()

    assert wait_for(none_pending, 30), processes.log("worker")
    print(f"recovered by beat's sweep {time.monotonic() - back_at:.1f} s after Redis came back")
    assert sorted(Alert.objects.values_list("summary", flat=True)) == sorted(summaries)
    assert set(Alert.objects.values_list("count", flat=True)) == {1}
    assert set(InboundEvent.objects.values_list("status", "attempts")) == {("processed", 1)}

    # The web process publishes again by itself: a fresh delivery, which the sweep would leave
    # alone for a minute, is processed at once through its kick.
    status, _, _ = http(hooks[0], {"summary": "After the outage", "source": "db-1"})
    assert status == 202
    assert wait_for(lambda: Alert.objects.filter(summary="After the outage").exists(), 10)
    assert Alert.objects.count() == 21


# --- a worker killed midway -----------------------------------------------------------------------


def worker_transactions() -> list[tuple[int, float]]:
    """(backend pid, seconds open) of every other connection inside a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, EXTRACT(EPOCH FROM now() - xact_start) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND xact_start IS NOT NULL"
        )
        return [(pid, float(age)) for pid, age in cursor.fetchall()]


# About 9 ms a delivery, in the worker as in the sweep: large enough to catch a batch open, small
# enough to keep the file within a minute.
DELIVERIES, BATCH, INCIDENTS = 2000, 500, 20


def alert_ids_taken() -> int:
    # Sequences are not transactional: this shows the alerts an open transaction has inserted.
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM alerts_alert_id_seq")
        return cursor.fetchone()[0]


def test_it_finishes_a_batch_cut_short_by_a_killed_worker_without_loss_or_doubles(
    transactional_db, processes, settings
):
    from alerts.tasks import deliveries_process_pending as task
    from ioc.celery import app

    floor = Floor()
    # Store through the accepting service, without kicking anything: the worker below is told
    # once, when it is ready to be killed.
    settings.IOC_BACKGROUND = "thread"
    for n in range(DELIVERIES):
        # Each fingerprint seen twice, grouped by name into INCIDENTS incidents.
        body = {
            "summary": f"Disk {n // 2} full",
            "dedup_key": f"disk-{n // 2}",
            "name": f"disk-check-{n // 2 % INCIDENTS}",
            "service": "storage",
            "severity": "high",
        }
        delivery_store(
            integration=floor.integration,
            body=json.dumps(body).encode(),
            content_type="application/json",
            headers={},
        )
    ids_before = alert_ids_taken()

    redis = RedisServer(processes).start()
    # Several batches: some commit before the kill, and the one open at the kill is large.
    env = ioc_env(redis.url, IOC_PROCESS_BATCH_SIZE=str(BATCH))
    worker = processes.celery(
        "worker-1", env, "worker", "--concurrency=1", "--without-mingle", "--without-gossip"
    )
    with app.connection_for_write(redis.url) as broker:
        task.apply_async(producer=app.amqp.Producer(broker))

    def midway() -> bool:
        # A batch has committed, and the open one has inserted alerts (ids taken beyond the
        # committed rows): a batch takes a fraction of a second, so its own inserts are the
        # moment to kill it, not its age.
        processed = InboundEvent.objects.filter(status="processed").count()
        return processed >= BATCH and alert_ids_taken() - ids_before > Alert.objects.count()

    assert wait_for(midway, 30, every=0.02), processes.log("worker-1")
    backends = {pid for pid, _ in worker_transactions()}
    processes.kill(worker)  # SIGKILL to the worker and its pool process at once
    # PostgreSQL rolls the dead worker's transaction back; until it has, SKIP LOCKED would
    # (rightly) pass over its rows.
    assert wait_for(lambda: not backends & {pid for pid, _ in worker_transactions()}, 10)

    processed = InboundEvent.objects.filter(status="processed").count()
    assert BATCH <= processed < DELIVERIES, "the worker was not killed midway"
    # What committed is whole: every processed delivery counted once, nothing else.
    assert (Alert.objects.aggregate(n=Sum("count"))["n"] or 0) == processed
    # And the kill cut a batch short: it had inserted alerts that were rolled back.
    assert alert_ids_taken() - ids_before > Alert.objects.count()
    print(f"killed with {processed} of {DELIVERIES} processed and a batch open")

    assert age_pending_deliveries() == DELIVERIES - processed
    assert deliveries_sweep() == DELIVERIES - processed

    assert set(InboundEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
    assert Alert.objects.count() == DELIVERIES // 2
    assert set(Alert.objects.values_list("count", flat=True)) == {2}
    assert Incident.objects.count() == INCIDENTS
    alerts_per_incident = DELIVERIES // 2 // INCIDENTS
    assert set(Incident.objects.values_list("alert_count", flat=True)) == {alerts_per_incident}
    attached = IncidentEvent.objects.filter(kind=IncidentEvent.Kind.ALERT_ATTACHED)
    assert attached.count() == DELIVERIES // 2
    assert IncidentEvent.objects.filter(kind=IncidentEvent.Kind.OPENED).count() == INCIDENTS


# --- the publish is bounded -----------------------------------------------------------------------

PUBLISH_CHECK = """
import json, sys, time
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
from ioc import background

# No pause after a failure: each kick must be bounded by itself, not by being skipped.
background.PUBLISH_PAUSE_SECONDS = 0
setup_test_environment()  # lets the test client's host in
client = Client()
# Warm up (URLs, the database connection) without touching Redis: an unknown token is a 404.
warm_up = client.post("/integrations/no-such-token/", {}, content_type="application/json")
assert warm_up.status_code == 404
started = time.monotonic()
response = client.post(
    f"/integrations/{sys.argv[1]}/", {"summary": "Broker unreachable"},
    content_type="application/json",
)
post = time.monotonic() - started
kicks = []
for _ in range(5):
    started = time.monotonic()
    background.kick_processing()
    kicks.append(time.monotonic() - started)
print(json.dumps({"status": response.status_code, "post": post, "kicks": kicks}))
"""


class SilentServer:
    """Accepts TCP connections and never answers: a hung or blackholed Redis."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for sock in self.accepted:
            sock.close()


@pytest.mark.parametrize("broker", ["refusing", "silent"])
def test_it_answers_202_fast_whatever_the_broker_does(transactional_db, broker):
    floor = Floor()
    silent = SilentServer() if broker == "silent" else None
    port = silent.port if silent else free_port()  # nothing listens on a fresh free port
    try:
        result = subprocess.run(
            [sys.executable, "-c", PUBLISH_CHECK, floor.token],
            cwd=ROOT,
            env=ioc_env(f"redis://127.0.0.1:{port}/0"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        if silent:
            silent.close()
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    print(broker, measured)
    assert measured["status"] == 202
    assert measured["post"] < 1.0
    assert max(measured["kicks"]) < 0.5
    assert "could not queue delivery processing" in result.stderr
    assert InboundEvent.objects.get().status == "pending"  # left for the sweep
