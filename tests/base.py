"""Personas and helpers shared by the tests: build state through services, not by hand."""

import json
import threading
import time
from collections.abc import Callable, Iterable

import pytest
from django.contrib.auth import get_user_model
from django.db import close_old_connections
from django.test import Client
from rest_framework.authtoken.models import Token

from alerts.ingest import deliveries_process_pending
from alerts.services import integration_create
from teams.models import Membership, Team
from teams.services import membership_set, team_create

__all__ = [
    "api_client_for",
    "first_line",
    "floor",
    "outside_team",
    "post_alert",
    "process",
    "run_concurrently",
    "wait_for",
]


class Floor:
    """A small IOC floor: two IOC teams, one outside team, and people in each role."""

    def __init__(self):
        users = get_user_model().objects
        self.first_line = team_create(name="First line", slug="first-line", in_ioc=True)
        self.dba = team_create(name="DBA", slug="dba", in_ioc=True)
        self.vendor = team_create(name="Payments app", slug="payments-app", in_ioc=False)
        self.admin = users.create_superuser("admin", "admin@example.org", "pw-admin-123")
        self.manager = users.create_user("manager", password="pw-manager-123")
        self.alice = users.create_user("alice", password="pw-alice-123")  # first line member
        self.dave = users.create_user("dave", password="pw-dave-123")  # DBA member
        self.paul = users.create_user("paul", password="pw-paul-123")  # outside team member
        self.olga = users.create_user("olga", password="pw-olga-123")  # observer of first line
        membership_set(user=self.manager, team=self.first_line, role=Membership.Role.MANAGER)
        membership_set(user=self.alice, team=self.first_line)
        membership_set(user=self.dave, team=self.dba)
        membership_set(user=self.paul, team=self.vendor)
        membership_set(user=self.olga, team=self.first_line, role=Membership.Role.OBSERVER)
        self.integration, self.token = integration_create(
            name="Generic (first line)", kind="generic", team=self.first_line
        )
        self.vendor_integration, self.vendor_token = integration_create(
            name="Generic (payments)", kind="generic", team=self.vendor
        )

    def client_for(self, user) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def floor(db) -> Floor:
    return Floor()


@pytest.fixture
def first_line(floor) -> Team:
    return floor.first_line


@pytest.fixture
def outside_team(floor) -> Team:
    return floor.vendor


def api_client_for(user) -> Client:
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


def post_alert(client: Client, token: str, body, content_type: str = "application/json"):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(f"/integrations/{token}/", data=data, content_type=content_type)


def process() -> int:
    return deliveries_process_pending()


def wait_for(predicate: Callable[[], object], timeout: float, every: float = 0.1) -> bool:
    """Poll `predicate` every `every` seconds until it is true (True) or `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def run_concurrently(
    target: Callable[..., object], args_list: Iterable[tuple], *, timeout: float = 60.0
) -> list[Exception]:
    """Call `target(*args)` for each of `args_list`, each in its own thread, all released at
    once by a barrier; return what they raised. Each thread closes its database connection."""
    args_list = list(args_list)
    barrier = threading.Barrier(len(args_list))
    errors: list[Exception] = []

    def worker(args):
        try:
            barrier.wait()
            target(*args)
        except Exception as exc:  # pragma: no cover - returned to the test
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker, args=(args,)) for args in args_list]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors
