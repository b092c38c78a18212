"""Loaded with `-p tests.testenv` before pytest-django sets Django up: the suite's defaults for
the environment (the local PostgreSQL and Redis that tests/services.sh makes sure of)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("IOC_BROADCAST_INTERVAL", "0.2")
# One test database per run, so that two runs on one machine (a developer's and CI's, or two
# checkouts) do not drop each other's database.
os.environ.setdefault("IOC_TEST_DATABASE_NAME", f"test_ioc_{os.getpid()}")
