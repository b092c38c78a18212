"""Shared fixtures. The suite runs on real PostgreSQL and Redis (see tests/services.sh)."""

import psycopg
import pytest

from tests.base import *  # noqa: F403  (fixtures: personas, integrations, helpers)


def pytest_configure(config):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("the suite runs on PostgreSQL: set DATABASE_URL (make test does)")
    if not settings.REDIS_URL:
        raise pytest.UsageError("the suite runs with Redis: set REDIS_URL (make test does)")


@pytest.fixture(scope="session", autouse=True)
def _empty_celery_queue():
    # Webhook tests queue processing tasks that no worker runs; drop them so that a Celery
    # worker started by a later test does not begin with another run's leftovers.
    from ioc.celery import app

    with app.connection_for_write() as connection:
        app.amqp.TaskConsumer(connection).purge()
    yield


@pytest.fixture(scope="session", autouse=True)
def _close_connection_pools_before_teardown(django_db_setup, django_db_blocker):
    # Threads and live servers return connections to psycopg's pool, which keeps them open;
    # the test database can only be dropped once the pool is closed.
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        # A websocket consumer's or live server's thread may still hold a connection of its
        # own: end those sessions so the test database can be dropped.
        for conn in connections.all(initialized_only=True):
            if hasattr(conn, "close_pool"):
                conn.close_pool()
        db = connections["default"].settings_dict
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [db["NAME"]],
            )


@pytest.fixture(autouse=True)
def _batches_stay_on_the_bulk_path(request, caplog):
    # A processing batch that fails is redone one delivery at a time, which hides the failure
    # from the test's outcome: every test proves the bulk path itself, unless marked otherwise.
    yield
    if request.node.get_closest_marker("batch_fallback"):
        return
    fallbacks = [
        record
        for record in caplog.get_records("call")
        if record.name == "alerts.ingest" and record.getMessage().startswith("batch rolled back")
    ]
    assert not fallbacks, f"a processing batch fell back: {fallbacks[0].exc_text}"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness costs a third of a second per user; tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


from tests.live import live_asgi  # noqa: E402,F401  (fixture)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    # Routes, the catalog and silences are cached per process for a second; a test must not
    # see the previous test's rolled-back rows through them, nor leave its own behind.
    from alerts.catalog import catalog_cache_clear
    from alerts.routing import routes_cache_clear
    from alerts.suppression import silencers_cache_clear

    caches = (catalog_cache_clear, routes_cache_clear, silencers_cache_clear)
    for clear in caches:
        clear()
    yield
    for clear in caches:
        clear()
