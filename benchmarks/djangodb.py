"""The benchmarks' own PostgreSQL databases: dropped and made anew for every run, so a run
starts from the same state and never touches the database of `make test`."""

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ioc"


def database_recreate(admin_url: str, name: str) -> None:
    """Drop and create the database `name` through `admin_url` (the server's `postgres`)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def django_on_fresh_database(name: str, **environment: str) -> None:
    """For the in-process benchmarks: a fresh database `name` on DATABASE_URL's server, Django
    set up on it (no Redis; `environment` adds settings) and migrated."""
    parts = urlsplit(os.environ.get("DATABASE_URL", DEFAULT_URL))
    database_recreate(urlunsplit(parts._replace(path="/postgres")), name)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghij")
    os.environ.pop("REDIS_URL", None)
    os.environ.update(environment)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ioc.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
