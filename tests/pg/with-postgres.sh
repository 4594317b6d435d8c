#!/usr/bin/env bash
# Runs a command against a throw-away PostgreSQL 15 server: initdb in a temporary directory, start
# it on a free loopback port (its unix socket in the same directory), create database ucr_test,
# run the command with UCR_TEST_POSTGRES=postgresql://postgres@127.0.0.1:PORT/ucr_test, then stop
# the server and remove the directory, whatever the command's outcome. Exits with the command's
# status. PostgreSQL refuses to run as root, so as root the server runs as user postgres (created
# by the Debian package) or nobody.
#
# Usage: tests/pg/with-postgres.sh COMMAND [ARGS...]
# The server runs with fsync off: the tests check ucr's behaviour, not the disk's. UCR_PG_DURABLE=1
# keeps PostgreSQL's durable defaults (for measurements).
set -euo pipefail

[[ $# -ge 1 ]] || { echo "with-postgres: usage: with-postgres.sh COMMAND [ARGS...]" >&2; exit 2; }

PGBIN=${PGBIN:-}
if [[ -z "$PGBIN" ]]; then
  for v in 15 16 17; do
    if [[ -x "/usr/lib/postgresql/$v/bin/initdb" ]]; then PGBIN="/usr/lib/postgresql/$v/bin"; break; fi
  done
fi
if [[ -z "$PGBIN" || ! -x "$PGBIN/initdb" ]]; then
  echo "with-postgres: PostgreSQL server binaries not found (looked in /usr/lib/postgresql/15/bin);" \
       "run scripts/bootstrap (it installs the postgresql package)" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "with-postgres: python3 is required (to pick a free port)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ucr-pg.XXXXXX")
chmod 755 "$WORK"
AS=()
RUNAS=""
if [[ $(id -u) -eq 0 ]]; then
  RUNAS=postgres
  id -u postgres >/dev/null 2>&1 || RUNAS=nobody
  chown "$RUNAS" "$WORK"
  AS=(runuser -u "$RUNAS" --)
fi

stop() {
  local status=$?
  if [[ -f "$WORK/data/postmaster.pid" ]]; then
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ $status -ne 0 && -f "$WORK/server.log" ]]; then
    echo "with-postgres: last lines of the server log:" >&2
    tail -n 20 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit $status
}
trap stop EXIT
trap 'exit 130' INT TERM

"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
  >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; echo "with-postgres: initdb failed" >&2; exit 1; }

FAST="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[[ "${UCR_PG_DURABLE:-0}" == 1 ]] && FAST=""
started=0
for attempt in 1 2 3 4 5; do
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  if "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $WORK $FAST -c max_connections=300 -c shared_buffers=128MB" \
      start >/dev/null; then
    started=1
    break
  fi
  echo "with-postgres: start on port $PORT failed (attempt $attempt)" >&2
done
[[ $started -eq 1 ]] || { echo "with-postgres: the server did not start" >&2; exit 1; }

"$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE ucr_test" >/dev/null

export UCR_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$PORT/ucr_test"
export UCR_TEST_POSTGRES_SOCKET_DIR="$WORK"
export UCR_TEST_POSTGRES_BIN="$PGBIN"
export UCR_TEST_POSTGRES_DATA="$WORK/data"
export UCR_TEST_POSTGRES_RUNAS="${RUNAS:-}"
set +e
"$@"
status=$?
set -e
exit $status
