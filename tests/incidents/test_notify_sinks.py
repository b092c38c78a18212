"""Local receivers for the notification tests, and a guard that keeps them off the internet.

Other test modules import the fixtures by their function names (`http_sink_fixture`, ...).
`http_sink` is an HTTP server on a free loopback port that records every request and answers
what the test tells it to; `smtp_sink` is an aiosmtpd server likewise. `no_internet` (autouse
wherever it is imported) refuses any connection or name lookup beyond the loopback interface, so
a test that forgot to point somewhere local fails instead of reaching a real service.
"""

import email
import email.policy
import ipaddress
import json
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller

LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}


# --- The guard --------------------------------------------------------------------------------


class Blocked(ConnectionRefusedError):
    """Raised by the guard; an OSError, so transports treat it like any refused connection."""


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(name="no_internet", autouse=True)
def no_internet_fixture(monkeypatch):
    """Every connection a test makes goes to loopback; the attempts it refused are listed."""
    refused: list = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(sock, address) -> bool:
        return sock.family == getattr(socket, "AF_UNIX", None) or _is_loopback(address[0])

    def connect(sock, address):
        if not allowed(sock, address):
            refused.append(address)
            raise Blocked(f"test guard: no connection to {address!r}")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if not allowed(sock, address):
            refused.append(address)
            raise Blocked(f"test guard: no connection to {address!r}")
        return real_connect_ex(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _is_loopback(host):
            refused.append(host)
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: no lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused


def test_it_refuses_a_connection_beyond_loopback(no_internet):
    with socket.socket() as sock, pytest.raises(Blocked):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: would go nowhere anyway
    assert no_internet == [("192.0.2.1", 443)]


def test_it_refuses_a_name_lookup_beyond_localhost(no_internet):
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("hooks.slack.com", 443)
    assert no_internet == ["hooks.slack.com"]


def test_it_lets_loopback_through(http_sink, no_internet):
    with socket.create_connection(("127.0.0.1", http_sink.port), timeout=2):
        pass
    assert no_internet == []


# --- HTTP sink --------------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {name: values[0] for name, values in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class HttpSink:
    def __init__(self):
        self.requests: list[Recorded] = []
        self.replies: deque[Reply] = deque()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                sink.requests.append(
                    Recorded(
                        method=self.command,
                        path=self.path,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=self.rfile.read(length),
                    )
                )
                reply = sink.replies.popleft() if sink.replies else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, *replies: Reply | int) -> None:
        """Queue the next answers, in order; a bare int is that status with an empty body."""
        for reply in replies:
            self.replies.append(Reply(status=reply, body=b"") if isinstance(reply, int) else reply)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]


@pytest.fixture(name="http_sink")
def http_sink_fixture():
    sink = HttpSink()
    sink.thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- SMTP sink --------------------------------------------------------------------------------


class SmtpSink:
    """Accepts mail for anyone unless told to refuse the recipient or the data."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.rcpt_reply: str | None = None
        self.data_reply = "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply.startswith("250"):
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(
                email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            )
        return self.data_reply


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture(settings):
    sink = SmtpSink()
    # aiosmtpd logs every SMTP command at INFO; a failing test's output is easier to read without.
    log = logging.getLogger("mail.log")
    level = log.level
    log.setLevel(logging.WARNING)
    controller = Controller(sink, hostname="127.0.0.1", port=closed_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield sink
    controller.stop()
    log.setLevel(level)
