"""`make bench`: IOC's webhook intake and processing under load, next to two ceilings, on loopback.

Rows (docs/benchmarks.md says what each means):
  a  bare Django view (202, no database), uvicorn 2 workers, IOC's middleware  ceiling, same server
  b  the same view under gunicorn, 2 sync workers                              the fastest Django
  c  IOC accept through the fast path (alerts/fastpath.py), uvicorn 2 workers
  d  IOC accept through the Django view (IOC_WEBHOOK_FAST_PATH=0)
  e  end to end: accept at full load while 2 Celery workers process, then drain
  f  sustained: 1,000 alerts/s offered for 60 s, processed end to end; backlog at the end
  g  the same behind 500 routing rules (benchmarks/routes.py)
  c' d' e' f' g'  again, with a million stored alerts

Everything is bounded in time and stops by itself. It uses its own database (`ioc_bench`, made
anew each run) and its own Redis database (15, flushed), never the ones of `make test`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from djangodb import database_recreate
from load import CORES, cpu_used, machine_busy, run_wrk, user_cpu, write_script
from payloads import ALERTS_PER_REQUEST, requests_mix
from processes import ROOT, Started, start_gunicorn, start_uvicorn, start_workers
from report import DOC, HEADER, Row, Timing, format_row, machine_facts, verdicts, write_doc

PY = sys.executable
DATABASE = "ioc_bench"
REDIS_DB = 15
SUSTAINED_ALERTS_PER_SECOND = 1000


# --- environment ---------------------------------------------------------------------------------


def bench_urls() -> tuple[str, str, str]:
    """(admin URL to create the database, the benchmark's DATABASE_URL, its REDIS_URL)."""
    database = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/ioc"
    redis = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parts = urlsplit(database)
    admin = urlunsplit(parts._replace(path="/postgres"))
    bench = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    redis_parts = urlsplit(redis)
    return admin, bench, urlunsplit(redis_parts._replace(path=f"/{REDIS_DB}"))


def loopback_only(*urls: str) -> None:
    for url in urls:
        host = urlsplit(url).hostname or ""
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise SystemExit(f"the benchmark runs on loopback only; {host} is not")


def child_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "benchmark-only-secret-key-" + "x" * 40,
        "IOC_BENCHMARK_VIEWS": "1",
        "LOG_LEVEL": "WARNING",
        # Checked on every delivery (never bypassed), but set high enough not to refuse the load.
        "IOC_WEBHOOK_RATE_LIMIT_PER_MINUTE": "100000000",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


# --- database ------------------------------------------------------------------------------------


class Db:
    def __init__(self, url: str, alertmanager_id: int):
        self.conn = psycopg.connect(url, autocommit=True)
        self.alertmanager_id = alertmanager_id

    def one(self, sql: str, params=()) -> tuple:
        return self.conn.execute(sql, params).fetchone()

    def postgres_pids(self) -> set[int]:
        """The server's processes that work for this database: its backends and the shared
        background processes (no database)."""
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL"
        ).fetchall()
        return {pid for (pid,) in rows}

    def now(self) -> datetime:
        return self.one("SELECT now()")[0]

    def pending(self) -> tuple[int, int]:
        """(deliveries, alerts) not processed yet."""
        return self.one(
            "SELECT count(*), coalesce(sum(CASE WHEN integration_id = %s "
            "THEN jsonb_array_length(body::jsonb -> 'alerts') ELSE 1 END), 0) "
            "FROM alerts_inboundevent WHERE status = 'pending'",
            (self.alertmanager_id,),
        )

    def processed_between(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(deliveries, alerts) processed in [start, end)."""
        return self.one(
            "SELECT count(*), coalesce(sum(jsonb_array_length(coalesce(result -> 'alerts', "
            "'[]'::jsonb))), 0) FROM alerts_inboundevent "
            "WHERE status <> 'pending' AND processed_at >= %s AND processed_at < %s",
            (start, end),
        )

    def failed_since(self, start: datetime) -> int:
        return self.one(
            "SELECT count(*) FROM alerts_inboundevent WHERE status = 'failed' "
            "AND received_at >= %s",
            (start,),
        )[0]

    def end_to_end_ms(self, start: datetime, end: datetime) -> tuple[float, float]:
        """p50 and p99 of received → processed, for deliveries received in [start, end)."""
        p50, p99 = self.one(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY d) FROM (SELECT extract(epoch FROM "
            "processed_at - received_at) * 1000 AS d FROM alerts_inboundevent "
            "WHERE received_at >= %s AND received_at < %s AND processed_at IS NOT NULL) t",
            (start, end),
        )
        return p50 or 0.0, p99 or 0.0

    def max_id(self) -> int:
        return self.one("SELECT coalesce(max(id), 0) FROM alerts_inboundevent")[0]

    def trim_deliveries(self, after_id: int) -> None:
        self.conn.execute("DELETE FROM alerts_inboundevent WHERE id > %s", (after_id,))

    def wait_drained(self, limit: float) -> float | None:
        """Seconds until nothing is pending, or None when the limit passed first."""
        started = time.monotonic()
        while time.monotonic() - started < limit:
            if self.pending()[0] == 0:
                return time.monotonic() - started
            time.sleep(0.25)
        return None


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [PY, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def redis_flush(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


# --- measuring -----------------------------------------------------------------------------------


class CpuWindow:
    """CPU used by each group of processes during a window, as a share of the whole machine.
    PostgreSQL's share counts the backends of the benchmark's database and the server's own
    processes (WAL writer, checkpointer...), not other databases' backends."""

    def __init__(self, groups: dict[str, Started | None], db: "Db"):
        self.groups = {k: v for k, v in groups.items() if v is not None}
        self.db = db

    def _postgres(self) -> dict[int, float]:
        ours = self.db.postgres_pids()
        return {pid: cpu for pid, cpu in user_cpu("postgres").items() if pid in ours}

    def __enter__(self):
        self.started = time.monotonic()
        self.before = {k: v.cpu() for k, v in self.groups.items()}
        self.postgres = self._postgres()
        self.busy = machine_busy()
        return self

    def __exit__(self, *exc):
        self.wall = (time.monotonic() - self.started) * CORES
        wall = self.wall
        self.shares = {k: (v.cpu() - self.before[k]) / wall for k, v in self.groups.items()}
        self.shares["postgres"] = cpu_used(self.postgres, self._postgres()) / wall
        busy_after = machine_busy()
        self.shares["machine"] = (busy_after[0] - self.busy[0]) / (busy_after[1] - self.busy[1])
        return False


def throughput_row(
    row: Row, url: str, ctx: "Context", groups: dict[str, Started | None], *, url_path=False
) -> Row:
    """wrk at full speed on `url`: a warm-up, then the measured run."""
    load = {"connections": ctx.timing.connections, "url_path": url_path}
    run_wrk(url, ctx.script, seconds=ctx.timing.warmup, **load)
    with CpuWindow(groups, ctx.db) as window:
        result = run_wrk(url, ctx.script, seconds=ctx.timing.seconds, **load)
    row.rate = result.rate
    row.alerts = result.rate * ALERTS_PER_REQUEST
    row.p50_ms, row.p99_ms = result.p50_ms, result.p99_ms
    row.errors = result.errors
    row.wrk_share = result.wrk_share
    row.cpu = with_other(window.shares, result.wrk_share)
    if result.requests:
        row.server_ms = window.shares["server"] * window.wall / result.requests * 1000
    return row


def with_other(shares: dict[str, float], wrk_share: float) -> dict[str, float]:
    """`other`: what the rest of the machine used meanwhile (other people's work included)."""
    ours = wrk_share + sum(v for k, v in shares.items() if k != "machine")
    return {**shares, "other": max(0.0, shares["machine"] - ours)}


def report(row: Row) -> Row:
    print(format_row(row), flush=True)
    return row


# --- the rows ------------------------------------------------------------------------------------


def accept_rows(ctx, phase: str) -> list[Row]:
    rows = []
    server, port = start_uvicorn(ctx.env, ctx.logs, fast_path=True)
    try:
        if phase == "empty":
            rows.append(
                report(
                    throughput_row(
                        Row(
                            "a",
                            "bare Django view, 202, no database",
                            "uvicorn, 2 workers, IOC middleware",
                        ),
                        f"http://127.0.0.1:{port}/bench/accepted/",
                        ctx,
                        {"server": server},
                        url_path=True,
                    )
                )
            )
        mark = ctx.db.max_id()
        rows.append(
            report(
                throughput_row(
                    Row(f"c{phase_mark(phase)}", "IOC accept, fast path", "uvicorn, 2 workers"),
                    f"http://127.0.0.1:{port}",
                    ctx,
                    {"server": server},
                )
            )
        )
        stored = ctx.db.max_id() - mark
        rows[-1].notes = f"{stored:,} deliveries stored"
    finally:
        server.stop()
    ctx.between_rows(phase)
    if phase == "empty":
        gunicorn, port = start_gunicorn(ctx.env, ctx.logs)
        try:
            rows.append(
                report(
                    throughput_row(
                        Row("b", "bare Django view, 202, no database", "gunicorn, 2 sync workers"),
                        f"http://127.0.0.1:{port}/bench/accepted/",
                        ctx,
                        {"server": gunicorn},
                        url_path=True,
                    )
                )
            )
        finally:
            gunicorn.stop()
    server, port = start_uvicorn(ctx.env, ctx.logs, fast_path=False)
    try:
        rows.append(
            report(
                throughput_row(
                    Row(f"d{phase_mark(phase)}", "IOC accept, Django view", "uvicorn, 2 workers"),
                    f"http://127.0.0.1:{port}",
                    ctx,
                    {"server": server},
                )
            )
        )
    finally:
        server.stop()
    ctx.between_rows(phase)
    return rows


def processing_rows(ctx, phase: str) -> list[Row]:
    rows = []
    redis_flush(ctx.redis_url)
    server, port = start_uvicorn(ctx.env, ctx.logs, fast_path=True)
    workers = start_workers(ctx.env, ctx.logs)
    try:
        # e: full load for the row's duration, processing alongside; then drain.
        row = Row(f"e{phase_mark(phase)}", "end to end, full load", "uvicorn 2 + celery 2")
        start = ctx.db.now()
        throughput_row(
            row,
            f"http://127.0.0.1:{port}",
            ctx,
            {"server": server, "workers": workers},
        )
        end = ctx.db.now()
        accepted_alerts = row.alerts
        _, alerts = ctx.db.processed_between(start, end)
        window = (end - start).total_seconds()
        row.alerts = alerts / window
        backlog = ctx.db.pending()
        drain_start = ctx.db.now()
        drained = ctx.db.wait_drained(ctx.timing.drain_limit)
        drain_end = ctx.db.now()
        _, drain_alerts = ctx.db.processed_between(drain_start, drain_end)
        drain_rate = drain_alerts / max((drain_end - drain_start).total_seconds(), 0.001)
        ctx.processing_rate[phase] = drain_rate
        failed = ctx.db.failed_since(start)
        row.notes = (
            f"accepted {accepted_alerts:,.0f} alerts/s, processed {alerts / window:,.0f}/s "
            f"during the load; then {backlog[1]:,} alerts pending, drained at "
            f"{drain_rate:,.0f} alerts/s in "
            + (
                f"{drained:.0f} s"
                if drained is not None
                else f"over {ctx.timing.drain_limit:.0f} s (stopped)"
            )
            + (f"; {failed} failed" if failed else "")
        )
        rows.append(report(row))
        # The workers hold the backlog's rows: stop them before clearing it.
        workers.stop()
        ctx.between_rows(phase)
        workers = start_workers(ctx.env, ctx.logs)

        # f: a fixed schedule of SUSTAINED_ALERTS_PER_SECOND for the sustained duration, with
        # each integration's default routing; g: the same behind 500 routing rules.
        mark = phase_mark(phase)
        rows.append(sustained_row(ctx, phase, f"f{mark}", "", port, server, workers))
        workers.stop()
        ctx.between_rows(phase)
        manage(ctx.env, "benchmarks/database.py", "routes500")
        workers = start_workers(ctx.env, ctx.logs)
        rows.append(
            sustained_row(ctx, phase, f"g{mark}", ", 500 routing rules", port, server, workers)
        )
        manage(ctx.env, "benchmarks/database.py", "routes0")
    finally:
        workers.stop()
        server.stop()
    ctx.between_rows(phase)
    return rows


def sustained_row(ctx, phase: str, key: str, rules: str, port: int, server, workers) -> Row:
    rate = SUSTAINED_ALERTS_PER_SECOND / ALERTS_PER_REQUEST
    row = Row(
        key,
        f"sustained {SUSTAINED_ALERTS_PER_SECOND:,} alerts/s offered{rules}",
        "uvicorn 2 + celery 2",
    )
    start = ctx.db.now()
    with CpuWindow({"server": server, "workers": workers}, ctx.db) as window:
        result = run_wrk(
            f"http://127.0.0.1:{port}",
            ctx.paced_script,
            seconds=ctx.timing.sustained,
            connections=ctx.timing.connections,
            rate=rate,
        )
    end = ctx.db.now()
    backlog = ctx.db.pending()
    drained = ctx.db.wait_drained(ctx.timing.drain_limit)
    _, alerts = ctx.db.processed_between(start, end)
    e2e = ctx.db.end_to_end_ms(start, end)
    row.rate = result.rate
    row.alerts = alerts / (end - start).total_seconds()
    row.p50_ms, row.p99_ms = result.p50_ms, result.p99_ms
    row.errors = result.errors
    row.wrk_share = result.wrk_share
    row.cpu = with_other(window.shares, result.wrk_share)
    work = backlog[1] / ctx.processing_rate[phase] if ctx.processing_rate[phase] else None
    offered = result.requests / result.seconds * ALERTS_PER_REQUEST
    ctx.sustained[key] = {
        "offered": offered,
        "backlog_alerts": backlog[1],
        "backlog_seconds": work,
        "drained_in": drained,
    }
    row.notes = (
        f"offered {offered:,.0f} alerts/s; at the end {backlog[1]:,} alerts pending"
        + (f" ≈ {work:.2f} s of work" if work is not None else "")
        + (f", drained in {drained:.1f} s" if drained is not None else ", not drained")
        + f"; received → processed p50 {e2e[0]:,.0f} ms, p99 {e2e[1]:,.0f} ms"
    )
    return report(row)


def phase_mark(phase: str) -> str:
    return "'" if phase == "million" else ""


# --- main ----------------------------------------------------------------------------------------


class Context:
    def __init__(self, env, redis_url, db, logs, script, paced_script, timing):
        self.env, self.redis_url, self.db, self.logs = env, redis_url, db, logs
        self.script, self.paced_script, self.timing = script, paced_script, timing
        self.processing_rate: dict[str, float] = {}
        self.sustained: dict[str, dict] = {}
        self.mark = 0

    def between_rows(self, phase: str) -> None:
        """Start the next row from the same state: no backlog, no leftover deliveries."""
        if phase == "empty":
            manage(self.env, "benchmarks/database.py", "reset")
        else:
            self.db.trim_deliveries(self.mark)
        redis_flush(self.redis_url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short rows, to try the harness")
    parser.add_argument("--no-million", action="store_true", help="skip the million-alert rows")
    parser.add_argument("--no-doc", action="store_true", help=f"do not rewrite {DOC.name}")
    args = parser.parse_args()
    timing = Timing(warmup=2, seconds=5, sustained=15, drain_limit=60) if args.quick else Timing()

    admin_url, database_url, redis_url = bench_urls()
    loopback_only(admin_url, database_url, redis_url)
    env = child_env(database_url, redis_url)
    logs = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    print(f"benchmark database {DATABASE}, Redis db {REDIS_DB}; logs in {logs}", flush=True)

    database_recreate(admin_url, DATABASE)
    manage(env, "manage.py", "migrate", "--noinput")
    tokens = json.loads(manage(env, "benchmarks/database.py", "seed").strip().splitlines()[-1])
    redis_flush(redis_url)
    with psycopg.connect(database_url) as conn:
        ids = dict(conn.execute("SELECT kind, id FROM alerts_integration").fetchall())
    db = Db(database_url, ids["alertmanager"])
    mix = requests_mix(generic_token=tokens["generic"], alertmanager_token=tokens["alertmanager"])
    script = write_script(logs / "mix.lua", mix, paced=False)
    paced = write_script(logs / "paced.lua", mix, paced=True)
    ctx = Context(env, redis_url, db, logs, script, paced, timing)
    facts = machine_facts(db)
    print("\n".join(facts))
    print(HEADER, flush=True)

    rows: list[Row] = []
    try:
        rows += accept_rows(ctx, "empty")
        rows += processing_rows(ctx, "empty")
        if not args.no_million:
            manage(env, "benchmarks/database.py", "reset")
            loaded = manage(env, "benchmarks/database.py", "million", timeout=1800).strip()
            print(loaded, flush=True)
            ctx.mark = db.max_id()
            rows += accept_rows(ctx, "million")
            rows += processing_rows(ctx, "million")
    finally:
        # Whatever was measured is written, even when a later row failed.
        lines = verdicts({r.key: r for r in rows}, ctx) if rows else []
        print("\n".join(lines))
        if rows and not args.no_doc:
            write_doc(rows, facts, lines, timing)
            print(f"written to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
