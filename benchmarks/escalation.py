"""Escalation under load: 1,000 incidents due at the same moment.

Targets (from the escalation issue): their notification rows exist within 10 s, and they are
delivered to a local test server within 20 s. Baseline in the same run: the same 1,000 POSTs
sent straight to the same local server, without the engine. Two sweepers run side by side, as
two Celery workers would. Loopback only; its own database (`ioc_bench_escalation`, made anew).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ioc .venv/bin/python benchmarks/escalation.py
"""

import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
INCIDENTS = 1000
from djangodb import django_on_fresh_database  # noqa: E402

DATABASE = "ioc_bench_escalation"


class Sink:
    """A local HTTP server that counts what it receives, by idempotency key."""

    def __init__(self):
        self.keys: list[str] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.lock:
                    sink.keys.append(self.headers.get("Idempotency-Key", ""))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def in_threads(target, count: int) -> None:
    from django.db import close_old_connections

    def run():
        try:
            target()
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> None:
    django_on_fresh_database(DATABASE)
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from incidents import escalation_engine, notifications
    from incidents.escalation_models import (
        Escalation,
        EscalationPolicy,
        EscalationStep,
        Notification,
    )
    from incidents.services import incident_open
    from teams.models import ContactMethod, NotificationRule
    from teams.services import team_create

    sink = Sink()
    team = team_create(name="DBA", slug="dba")
    user = get_user_model().objects.create_user("oncall")
    method = ContactMethod.objects.create(user=user, kind="webhook", address=sink.url)
    NotificationRule.objects.create(user=user, contact_method=method)
    policy = EscalationPolicy.objects.create(name="DBA", team=team, is_default=True)
    step = EscalationStep.objects.create(policy=policy, position=1, kind="notify_users")
    step.users.set([user])
    for n in range(INCIDENTS):
        incident_open(team=team, title=f"benchmark {n}", severity="SEV3")
    # All due at the same moment.
    Escalation.objects.update(next_at=timezone.now())

    # Baseline: the same number of POSTs straight to the sink, 4 threads.
    started = time.monotonic()
    remaining = list(range(INCIDENTS))
    lock = threading.Lock()

    def post():
        while True:
            with lock:
                if not remaining:
                    return
                n = remaining.pop()
            request = urllib.request.Request(
                sink.url, data=b"{}", method="POST", headers={"Idempotency-Key": f"baseline-{n}"}
            )
            urllib.request.urlopen(request, timeout=10).read()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    baseline = time.monotonic() - started
    sink.keys.clear()

    def sweep():
        while escalation_engine.escalations_run_due(limit=100):
            pass

    started = time.monotonic()
    in_threads(sweep, 2)
    rows_at = time.monotonic() - started
    rows = Notification.objects.count()
    in_threads(lambda: notifications.notifications_deliver_due(limit=INCIDENTS), 4)
    delivered_at = time.monotonic() - started
    sent = Notification.objects.filter(status="sent").count()
    distinct = len(set(sink.keys))

    print()
    print(f"| {INCIDENTS:,} incidents due at once | seconds | target | result |")
    print("| --- | --- | --- | --- |")
    print(
        f"| baseline: {INCIDENTS:,} POSTs straight to the local server, 4 threads | "
        f"{baseline:.2f} | | |"
    )
    print(
        f"| notification rows created (2 sweepers) | {rows_at:.2f} | 10 | "
        f"{'met' if rows_at <= 10 and rows == INCIDENTS else 'NOT met'} ({rows:,} rows) |"
    )
    print(
        f"| delivered to the local server (4 senders) | {delivered_at:.2f} | 20 | "
        f"{'met' if delivered_at <= 20 and sent == INCIDENTS else 'NOT met'} "
        f"({sent:,} sent, {len(sink.keys):,} received, {distinct:,} distinct keys) |"
    )
    sink.server.shutdown()


if __name__ == "__main__":
    main()
