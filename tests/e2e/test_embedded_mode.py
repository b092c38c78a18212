"""`make run`'s mode: SQLite, no Redis, one process. Boot it for real and push one alert through
to the board."""

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.live import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def embedded(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "IOC_VAR_DIR": str(tmp_path / "var"),
            "SECRET_KEY": "embedded-test-secret-key-0123456789-abcdefghijklmnop",
            "PORT": str(port),
            "HOST": "127.0.0.1",
        }
    )
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            manage + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=180
        )
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen([*manage, "serve"], cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                health = json.loads(response.read())
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError((tmp_path / "serve.log").read_text()) from None
            time.sleep(0.2)
    credentials = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    yield {
        "base": base,
        "port": port,
        "credentials": credentials,
        "health": health,
        "db": tmp_path / "var" / "ioc.sqlite3",
    }
    server.terminate()
    server.wait(timeout=20)
    log.close()


def login(base: str, username: str, password: str) -> http.cookiejar.CookieJar:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/accounts/login/").read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf}
    ).encode()
    request = urllib.request.Request(
        base + "/accounts/login/", data=data, headers={"Referer": base + "/accounts/login/"}
    )
    board = opener.open(request).read().decode()
    assert "Open incidents" in board
    return jar


def test_embedded_mode_serves_an_alert_to_the_live_board(embedded):
    base = embedded["base"]
    assert embedded["health"]["database"] == "ok"
    assert embedded["health"]["background"] == "thread"
    assert embedded["health"]["redis"] == "not configured"
    assert embedded["db"].exists()

    jar = login(base, "admin", embedded["credentials"]["admin_password"])
    session = next(cookie.value for cookie in jar if cookie.name == "sessionid")
    headers = {"Origin": base, "Cookie": f"sessionid={session}"}
    with connect(
        f"ws://127.0.0.1:{embedded['port']}/ws/board/", additional_headers=headers, open_timeout=10
    ) as socket:
        time.sleep(0.3)
        token = embedded["credentials"]["tokens"]["network"]
        request = urllib.request.Request(
            f"{base}/integrations/{token}/",
            data=json.dumps(
                {
                    "summary": "Core switch sw-core-1 unreachable",
                    "severity": "critical",
                    "source": "sw-core-1",
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
            accepted = json.loads(response.read())
        assert accepted["status"] == "accepted"
        message = json.loads(socket.recv(timeout=15))
    assert message["kind"] == "board"
    assert "Core switch sw-core-1 unreachable" in message["html"]

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    board = opener.open(base + "/").read().decode()
    assert "Core switch sw-core-1 unreachable" in board
    assert "SEV2" in board
    assert "Network" in board


def test_embedded_mode_takes_concurrent_writes_without_locking_errors(embedded):
    """SQLite in WAL mode with immediate transactions: parallel webhooks all get 202."""
    from concurrent.futures import ThreadPoolExecutor

    base = embedded["base"]
    token = embedded["credentials"]["tokens"]["dba"]

    def post(n: int) -> int:
        request = urllib.request.Request(
            f"{base}/integrations/{token}/",
            data=json.dumps({"summary": f"slow query {n % 5}", "source": f"db-{n}"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, range(200)))
    assert statuses == [202] * 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            if json.loads(response.read())["pending_deliveries"] == 0:
                break
        time.sleep(0.3)
    import sqlite3

    with sqlite3.connect(embedded["db"]) as db:
        alerts = db.execute("select count(*), sum(count) from alerts_alert").fetchone()
        failed = db.execute("select count(*) from alerts_inboundevent where status != 'processed'")
        assert failed.fetchone()[0] == 0
    assert alerts == (200, 200)
