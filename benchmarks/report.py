"""The benchmark's rows, how they print, what they conclude, and docs/benchmarks.md."""

import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from load import CORES

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass
class Timing:
    warmup: float = 3
    seconds: float = 15
    sustained: float = 60
    drain_limit: float = 60
    connections: int = 64


@dataclass
class Row:
    key: str
    what: str
    server: str
    rate: float = 0.0  # requests answered 2xx per second
    alerts: float = 0.0  # alerts per second (accepted, or processed for the processing rows)
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    wrk_share: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # share of the machine per group
    server_ms: float | None = None  # server CPU per answered request, milliseconds
    notes: str = ""


# --- output --------------------------------------------------------------------------------------

HEADER = (
    "| row | what | server | req/s | alerts/s | p50 ms | p99 ms | errors | wrk CPU | server CPU "
    "| server CPU ms/req | workers CPU | postgres CPU | other CPU | notes |\n"
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
    "| ---: | --- |"
)


def pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def format_row(row: Row) -> str:
    def ms(value: float | None) -> str:
        return "" if value is None else f"{value:,.1f}"

    per_request = "" if row.server_ms is None else f"{row.server_ms:.2f}"

    return (
        f"| {row.key} | {row.what} | {row.server} | {row.rate:,.0f} | {row.alerts:,.0f} | "
        f"{ms(row.p50_ms)} | {ms(row.p99_ms)} | {row.errors:,} | {pct(row.wrk_share)} | "
        f"{pct(row.cpu.get('server'))} | {per_request} | {pct(row.cpu.get('workers'))} | "
        f"{pct(row.cpu.get('postgres'))} | {pct(row.cpu.get('other'))} | {row.notes} |"
    )


def verdicts(rows: dict[str, Row], ctx) -> list[str]:
    lines = []
    ceiling = rows["b"].rate if "b" in rows else 0.0
    for key in ("c", "c'"):
        if key in rows:
            ratio = rows[key].rate / ceiling if ceiling else 0
            lines.append(
                f"- Accept ({key}) at least half the gunicorn ceiling (b): "
                f"{rows[key].rate:,.0f} / {ceiling:,.0f} = {ratio:.2f} → "
                + ("**met**" if ratio >= 0.5 else "**not met**")
            )
    for key, sustained in ctx.sustained.items():
        if sustained:
            ok = sustained["backlog_seconds"] is not None and sustained["backlog_seconds"] < 1
            lines.append(
                f"- Sustained ({key}): {sustained['offered']:,.0f} alerts/s offered for "
                f"{ctx.timing.sustained:.0f} s, backlog at the end {sustained['backlog_alerts']:,} "
                "alerts"
                + (
                    f" ≈ {sustained['backlog_seconds']:.2f} s of work"
                    if sustained["backlog_seconds"] is not None
                    else ""
                )
                + (" → **met**" if ok else " → **not met**")
            )
    for key in ("c", "d", "e"):
        if key in rows and f"{key}'" in rows and rows[key].alerts:
            ratio = rows[f"{key}'"].alerts / rows[key].alerts
            lines.append(f"- Scale ({key}' / {key}, a million stored alerts / empty): {ratio:.2f}")
    return lines


def machine_facts(db) -> list[str]:
    """`db`: run.Db, for the server's version."""
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    versions = {}
    for package in ("django", "uvicorn", "gunicorn", "psycopg", "celery", "h11"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    from load import ensure_wrk

    wrk = subprocess.run([ensure_wrk(), "--version"], capture_output=True, text=True).stdout
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu.group(1) if cpu else '?'}, {CORES} cores; "
        f"memory {int(memory.group(1)) // 1024 // 1024 if memory else '?'} GiB; "
        f"Linux {platform.release()}",
        f"- load average at the start: {Path('/proc/loadavg').read_text().split()[0]}",
        f"- {db.one('SELECT version()')[0].split(' on ')[0]}; Python {platform.python_version()}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; {wrk.split(' Copyright')[0].strip()}",
    ]


def write_doc(rows: list[Row], facts: list[str], verdict_lines: list[str], timing: Timing) -> None:
    table = "\n".join([HEADER, *(format_row(r) for r in rows)])
    generated = "\n".join(
        [
            "<!-- bench:start (written by benchmarks/run.py; do not edit by hand) -->",
            "### Last run",
            "",
            *facts,
            f"- wrk: 2 threads, {timing.connections} connections, {timing.warmup:.0f} s warm-up "
            f"then {timing.seconds:.0f} s per row; sustained rows {timing.sustained:.0f} s",
            "",
            table,
            "",
            *verdict_lines,
            "<!-- bench:end -->",
        ]
    )
    text = DOC.read_text() if DOC.exists() else ""
    pattern = re.compile(r"<!-- bench:start.*?<!-- bench:end -->", re.S)
    text = (
        pattern.sub(lambda _: generated, text)
        if pattern.search(text)
        else text + "\n" + generated + "\n"
    )
    DOC.write_text(text)
