#!/usr/bin/env bash
# Make sure what the suite needs is there: PostgreSQL, Redis, a headless Chromium and a real
# Prometheus Alertmanager.
# Starts local services that are installed but down; says how to get what is missing.
set -uo pipefail

fail() { echo "make test: $*" >&2; exit 1; }
is_local() { [[ "$1" == *"@127.0.0.1"* || "$1" == *"@localhost"* || "$1" == *"//127.0.0.1"* || "$1" == *"//localhost"* ]]; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

py=.venv/bin/python

# PostgreSQL
pg_up() { "$py" - "$DATABASE_URL" <<'PY' >/dev/null 2>&1
import sys, psycopg
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
psycopg.connect(urlunsplit(parts._replace(path="/postgres")), connect_timeout=3).close()
PY
}
if ! pg_up; then
  if is_local "$DATABASE_URL" && command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || fail "PostgreSQL is not reachable at $DATABASE_URL. Install it (apt-get install postgresql) or set DATABASE_URL."
fi

# Redis
redis_up() { "$py" -c "import redis,sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()" "$REDIS_URL" >/dev/null 2>&1; }
if ! redis_up; then
  if is_local "$REDIS_URL" && command -v redis-server >/dev/null; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  fi
  redis_up || fail "Redis is not reachable at $REDIS_URL. Install it (apt-get install redis-server) or set REDIS_URL."
fi

# Headless Chromium for the browser tests (Debian's package; Playwright drives it).
if ! command -v chromium >/dev/null; then
  echo "installing chromium"
  apt_install chromium || fail "chromium is missing and could not be installed: apt-get install chromium"
fi

# Prometheus Alertmanager for tests/e2e/test_real_alertmanager.py (Debian's package). The test
# starts its own on a free port; the package starts a system one on :9093 and :9094, so stop it.
if ! command -v prometheus-alertmanager >/dev/null; then
  echo "installing prometheus-alertmanager"
  apt_install prometheus-alertmanager || fail "prometheus-alertmanager is missing and could not be installed: apt-get install prometheus-alertmanager"
  if [ -d /run/systemd/system ]; then
    as_root systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  else
    as_root invoke-rc.d prometheus-alertmanager stop >/dev/null 2>&1 || true
  fi
fi
exit 0
