#!/usr/bin/env bash
# krill's studies on PostgreSQL beside Optuna's RDB storage on the same server (issue 15):
# installs what it needs (Debian's python3-optuna, python3-psycopg2, the server), builds the bench
# programs, starts a throwaway PostgreSQL server with its default durability settings (fsync,
# synchronous_commit and full_page_writes on: what a user's server does; track_wal_io_timing on, so
# that the mean WAL fsync time of each measurement is recorded), runs bench/postgres.py
# (per-trial cost, krill and Optuna alternately; then 1, 2, 4, 8 processes on one study, on SQLite
# and PostgreSQL), writes bench/results/postgres.json and stops the server.
#
# Usage: bench/postgres.sh [bench/postgres.py options: --repeats 3 --budget 2000 ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/install-deps.sh" python3-optuna python3-psycopg2 postgresql libpq-dev

[[ -f build/build.ninja ]] ||
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKRILL_NATIVE=OFF >/dev/null
nice cmake --build build -j2 --target krill_study_bench krill_store_bench krill_study_procs
if ! build/bench/krill_study_bench --benchmark_list_tests | grep -q BM_TrialPostgres; then
  echo "bench/postgres.sh: this build has no PostgreSQL (libpq not found by CMake)" >&2
  exit 1
fi

# Both sides with their own defaults for threads: nothing here uses BLAS.
unset OPENBLAS_NUM_THREADS OPENBLAS_CORETYPE OPENBLAS_VERBOSE OMP_NUM_THREADS

# --- the throwaway server ------------------------------------------------------------------------
srv=$(mktemp -d /tmp/krill-pgbench.XXXXXX)
admin_url=""
server_kind=""
stop_server() {
  if [[ "$server_kind" == script ]]; then
    "$root/scripts/pg-test-server.sh" stop "$srv/server" || true
  elif [[ "$server_kind" == inline && -f "$srv/data/postmaster.pid" ]]; then
    (cd / && setpriv_as "$bindir/pg_ctl" stop -D "$srv/data" -m fast -w -t 30 >/dev/null) || true
  fi
  rm -rf "$srv"
}
trap stop_server EXIT

bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
# initdb and the server refuse root: as root they run as nobody.
setpriv_as() {
  if [[ $(id -u) -eq 0 ]]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

start_inline() {
  local port=$((15000 + RANDOM % 17000))
  [[ $(id -u) -eq 0 ]] && chown nobody "$srv"
  (cd / && setpriv_as "$bindir/initdb" -D "$srv/data" -U krill --auth-local=trust \
    --auth-host=trust --encoding=UTF8 --locale=C >"$srv/initdb.log" 2>&1)
  mkdir "$srv/sock"
  [[ $(id -u) -eq 0 ]] && chown nobody "$srv/sock"
  (cd / && setpriv_as "$bindir/pg_ctl" -D "$srv/data" -l "$srv/log" -w -t 60 \
    -o "-p $port -k $srv/sock -c listen_addresses=127.0.0.1 -c track_wal_io_timing=on" \
    start >/dev/null)
  server_kind=inline
  admin_url="postgresql://krill@/postgres?host=$srv/sock&port=$port"
}

# scripts/pg-test-server.sh (the tests' server) turns durability off for speed: put PostgreSQL's
# defaults back (postgresql.auto.conf overrides its settings file) and restart.
start_with_script() {
  "$root/scripts/pg-test-server.sh" start "$srv/server" >/dev/null
  server_kind=script
  admin_url=$(sed -n 's/^PGTEST_URL=//p' "$srv/server/server.env")
  psql "$admin_url" -XAtq -c "ALTER SYSTEM SET fsync = on" \
    -c "ALTER SYSTEM SET synchronous_commit = on" -c "ALTER SYSTEM SET full_page_writes = on" \
    -c "ALTER SYSTEM SET shared_buffers = '128MB'" -c "ALTER SYSTEM SET track_wal_io_timing = on"
  "$root/scripts/pg-test-server.sh" restart "$srv/server"
}

if [[ -x "$root/scripts/pg-test-server.sh" ]]; then
  start_with_script
else
  start_inline
fi

settings=$(psql "$admin_url" -XAtq -c "SELECT json_build_object(
  'version', current_setting('server_version'), 'fsync', current_setting('fsync'),
  'synchronous_commit', current_setting('synchronous_commit'),
  'full_page_writes', current_setting('full_page_writes'),
  'wal_sync_method', current_setting('wal_sync_method'),
  'shared_buffers', current_setting('shared_buffers'),
  'connection', 'unix socket', 'started_by', '$server_kind')")
echo "server: $settings"
[[ "$(psql "$admin_url" -XAtqc 'SHOW fsync')" == on ]] || { echo "fsync is off" >&2; exit 1; }

/usr/bin/python3 "$root/bench/postgres.py" --url "$admin_url" --server "$settings" "$@"
