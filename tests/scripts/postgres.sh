#!/usr/bin/env bash
# Starts (or stops) a private PostgreSQL cluster for the test suite, from
# Debian's postgresql package, listening on 127.0.0.1 only.
#
#   tests/scripts/postgres.sh start   # prints the URL to export as TRELLIS_TEST_DATABASE
#   tests/scripts/postgres.sh stop
#
# Environment: TRELLIS_PG_DIR (cluster folder, default /tmp/trellis-test-pg),
# TRELLIS_PG_PORT (default 55432).
set -euo pipefail

dir="${TRELLIS_PG_DIR:-/tmp/trellis-test-pg}"
port="${TRELLIS_PG_PORT:-55432}"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    if [ -z "$bin" ]; then
      echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
      exit 1
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
      as_postgres "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -n "$bin" ] && [ -f "$dir/PG_VERSION" ]; then
      as_postgres "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
