"""The processes a benchmark row runs: servers and workers, each started in its own process
group and stopped by its own id."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from load import tree_cpu

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- processes -----------------------------------------------------------------------------------


class Started:
    """A process group started by the benchmark, stopped by its own id."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log: Path,
        stop_signal: int = signal.SIGTERM,
    ):
        self.name = name
        self.stop_signal = stop_signal
        self.log = log
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def cpu(self) -> float:
        return tree_cpu(self.process.pid)

    def stop(self) -> None:
        # SIGTERM to the supervisor (uvicorn, gunicorn, celery), which stops its own workers;
        # the whole group is killed only if that takes too long.
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def wait_http(url: str, started: Started, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if started.process.poll() is not None:
            raise SystemExit(f"{started.name} exited:\n{started.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{started.name} did not answer {url} within {timeout:.0f} s")


def start_uvicorn(env: dict[str, str], logs: Path, *, fast_path: bool) -> tuple[Started, int]:
    port = free_port()
    server = Started(
        "uvicorn",
        [PY, "benchmarks/serve.py", "ioc.asgi:application", "--port", str(port), "--workers", "2"],
        {**env, "IOC_WEBHOOK_FAST_PATH": "1" if fast_path else "0"},
        logs / f"uvicorn-{port}.log",
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", server)
    return server, port


def start_gunicorn(env: dict[str, str], logs: Path) -> tuple[Started, int]:
    port = free_port()
    server = Started(
        "gunicorn",
        [
            str(Path(PY).parent / "gunicorn"),
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "django.core.wsgi:get_wsgi_application()",
        ],
        env,
        logs / f"gunicorn-{port}.log",
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", server)
    return server, port


def start_workers(env: dict[str, str], logs: Path) -> Started:
    workers = Started(
        "celery",
        [
            PY,
            "-m",
            "celery",
            "-A",
            "ioc",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ],
        env,
        logs / "celery.log",
        # Cold shutdown: a warm one waits for the running task, which drains the whole backlog.
        stop_signal=signal.SIGQUIT,
    )
    time.sleep(4)  # prefork children up
    if workers.process.poll() is not None:
        raise SystemExit(f"celery exited:\n{workers.log.read_text()[-3000:]}")
    return workers
