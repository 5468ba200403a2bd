# Sourced by scripts/bench and scripts/demo: starts a throwaway PostgreSQL 15 cluster in a temp dir on a free port
# (as the `postgres` OS user when run as root, since PostgreSQL refuses to run as root) and stops it on exit.
# After `start_throwaway_pg`: $PG_PORT, $PG_WORK (temp dir), and `pg_psql DB [psql args…]`.

PG_BIN=${CAMPCTL_TEST_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}
PG_WORK=
PG_PID=

stop_throwaway_pg() {
  if [ -n "$PG_PID" ]; then
    # SIGINT is PostgreSQL's fast shutdown. Signal the postmaster itself: runuser does not forward signals.
    local postmaster
    postmaster=$(head -n 1 "$PG_WORK/data/postmaster.pid" 2>/dev/null || true)
    kill -INT "${postmaster:-$PG_PID}" 2>/dev/null || true
    wait "$PG_PID" 2>/dev/null || true
    PG_PID=
  fi
  [ -z "$PG_WORK" ] || rm -rf "$PG_WORK"
}

# start_throwaway_pg [extra postgres -c settings…]
start_throwaway_pg() {
  local tool
  for tool in "$PG_BIN/initdb" "$PG_BIN/postgres" psql; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "$0: $tool is missing: run scripts/test once (it installs PostgreSQL 15), or set CAMPCTL_TEST_PG_BIN_DIR" >&2
      exit 1
    }
  done
  PG_WORK=$(mktemp -d /tmp/campctl-pg.XXXXXX)
  trap stop_throwaway_pg EXIT
  trap 'exit 130' INT TERM
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PG_WORK"
    run_as=(runuser -u postgres --)
  fi
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${run_as[@]}" "$PG_BIN/initdb" -D "$PG_WORK/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  local settings=() setting
  for setting in "$@"; do settings+=(-c "$setting"); done
  "${run_as[@]}" "$PG_BIN/postgres" -D "$PG_WORK/data" -p "$PG_PORT" -k "$PG_WORK" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off "${settings[@]}" >"$PG_WORK/server.log" 2>&1 &
  PG_PID=$!
  local _
  for _ in $(seq 100); do
    pg_psql postgres -Atc 'select 1' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$0: PostgreSQL did not start; its log:" >&2
  cat "$PG_WORK/server.log" >&2
  exit 1
}

pg_psql() {
  local db=$1
  shift
  psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -d "$db" "$@"
}
