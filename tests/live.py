"""A real ASGI server (uvicorn) serving IOC from a thread of the test process, on a free port.

It shares the test database (tests using it need committed data: transaction=True) and the
channel layer on Redis, so websocket pushes travel the same way as in production.
"""

import socket
import threading
import time

import pytest
import uvicorn
from django.db import connections
from django.test import Client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self):
        from ioc.asgi import application

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            application, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        # The server's threads returned their connections to the pool, which keeps them open;
        # close it so the test database can be dropped at the end of the run.
        for conn in connections.all(initialized_only=True):
            if hasattr(conn, "close_pool"):
                conn.close_pool()


@pytest.fixture
def live_asgi(transactional_db):
    server = LiveServer().start()
    yield server
    server.stop()


def session_cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value
