#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (CTest's fixture pg_server_start/pg_server_stop,
# tests/common/pg_test_server.hpp). Usage: scripts/pg-test-server.sh start|stop|restart|status DIR
#
#   start    removes what an earlier run left in DIR (stopping its server), initdb's a fresh
#            cluster (superuser `krill` with a random password in DIR/password; trust over the
#            Unix socket, scram-sha-256 over TCP; no fsync), starts it on 127.0.0.1 and a socket
#            folder, on a free port, and writes DIR/server.env (KEY=VALUE lines, PGTEST_*) last,
#            once the server answers. Without the server package it says the PostgreSQL tests will
#            skip, writes the reason to DIR/unavailable (no server.env) and exits 0.
#   stop     stops the server (fast, then immediate, then SIGKILL) and removes DIR; 0 when nothing
#            runs.
#   restart  restarts the server on the same port and data.
#   status   exit 0 when the server answers.
#
# initdb and the server refuse to run as root: as root (CI) they run as `nobody`. The server's own
# files (data/, sock/, log) live in DIR when that user can reach DIR and the socket's path is short
# enough (107 bytes), else in a folder made by mktemp under /tmp, recorded in DIR/state (DIR/log
# is then a link to its log). The server binaries come from PG_BINDIR, else the newest
# /usr/lib/postgresql/*/bin (Debian; `pg_config --bindir` names the client's), else PATH.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|restart|status DIR" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2
[[ -n "$dir" ]] || usage
dir=$(realpath -m -- "$dir")

say() { echo "pg-test-server: $*" >&2; }

# DIR is removed on stop: refuse a folder that holds anything but this script's files.
if [[ -d "$dir" && ! -f "$dir/.pg-test-server" ]] && [[ -n "$(ls -A "$dir")" ]]; then
  say "$dir exists and was not made by this script: refusing to use (and later remove) it"
  exit 2
fi

# --- the server binaries ------------------------------------------------------------------------
find_bindir() {
  if [[ -n "${PG_BINDIR:-}" ]]; then
    [[ -x "$PG_BINDIR/initdb" ]] && echo "$PG_BINDIR"
    return 0
  fi
  local d best=""
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] && best=$d
  done
  if [[ -z "$best" ]] && command -v pg_config >/dev/null; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [[ -n "$d" && -x "$d/initdb" ]] && best=$d
  fi
  if [[ -z "$best" ]] && command -v initdb >/dev/null; then
    best=$(dirname "$(command -v initdb)")
  fi
  echo "$best"
}

# --- the server's user --------------------------------------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
  run_as_root=1
  id nobody >/dev/null 2>&1 || { say "running as root, and there is no user 'nobody' to run PostgreSQL as"; exit 1; }
  server_uid=$(id -u nobody)
  server_gid=$(id -g nobody)
else
  run_as_root=0
fi

# Runs a command as the server's user (from /, which that user can read: initdb and postgres look
# up their current folder).
as_server() {
  if [[ $run_as_root -eq 1 ]]; then
    if command -v setpriv >/dev/null; then
      (cd / && setpriv --reuid="$server_uid" --regid="$server_gid" --clear-groups -- "$@")
    else
      (cd / && runuser -u nobody -- "$@")
    fi
  else
    "$@"
  fi
}
give_to_server() {  # paths...
  [[ $run_as_root -eq 1 ]] && chown "$server_uid:$server_gid" "$@"
  return 0
}

# --- DIR/state: where the server's files are, which binaries ------------------------------------
read_kv() {  # file key: prints the value of key=value (or KEY=VALUE) in file
  local line
  [[ -f "$1" ]] || return 0
  while IFS= read -r line; do
    if [[ "$line" == "$2="* ]]; then
      echo "${line#*=}"
      return 0
    fi
  done <"$1"
}
state_root() {
  local r
  r=$(read_kv "$dir/state" root)
  echo "${r:-$dir}"
}
state_bindir() {
  local b
  b=$(read_kv "$dir/state" bindir)
  [[ -n "$b" ]] || b=$(find_bindir)
  echo "$b"
}

# Stops whatever server DIR describes and removes DIR (and the server's folder, when apart).
stop_and_remove() {
  local root bindir data pid
  root=$(state_root)
  bindir=$(state_bindir)
  data=$root/data
  if [[ -f "$data/postmaster.pid" ]]; then
    if [[ -n "$bindir" && -x "$bindir/pg_ctl" ]]; then
      as_server "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 30 >/dev/null 2>&1 ||
        as_server "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 30 >/dev/null 2>&1 || true
    fi
    if [[ -f "$data/postmaster.pid" ]]; then
      pid=$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)
      if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  if [[ "$root" != "$dir" && "$root" == /tmp/krill-pg.* ]]; then
    rm -rf "$root"
  fi
  rm -rf "$dir"
}

is_up() {
  local host port bindir
  host=$(read_kv "$dir/server.env" PGTEST_HOST)
  port=$(read_kv "$dir/server.env" PGTEST_PORT)
  bindir=$(read_kv "$dir/server.env" PGTEST_BINDIR)
  [[ -n "$host" && -n "$port" && -x "$bindir/pg_isready" ]] || return 1
  "$bindir/pg_isready" -q -h "$host" -p "$port" -U krill -d postgres -t 5
}

wait_ready() {  # bindir socket-dir port
  local i
  for ((i = 0; i < 60; i++)); do
    "$1/pg_isready" -q -h "$2" -p "$3" -U krill -d postgres -t 2 && return 0
    sleep 0.5
  done
  return 1
}

fail() {  # message: prints it and the log's tail, exits 1
  say "$1"
  if [[ -f "$dir/log" ]]; then
    say "last lines of $dir/log:"
    tail -n 30 "$dir/log" >&2 || true
  fi
  exit 1
}

start() {
  stop_and_remove
  mkdir -p "$dir"
  : >"$dir/.pg-test-server"
  local bindir
  bindir=$(find_bindir)
  if [[ -z "$bindir" ]]; then
    local why="the PostgreSQL server (initdb, pg_ctl, postgres) is not installed"
    why+=" (apt-get install postgresql, or scripts/install-deps.sh; PG_BINDIR=... to name its folder)"
    echo "$why" >"$dir/unavailable"
    echo "pg-test-server: the PostgreSQL tests will skip: $why"
    exit 0
  fi

  # Where the server's files go: DIR itself when the server's user can write there and the
  # socket's path fits, else a private folder under /tmp.
  local root=$dir
  if [[ $run_as_root -eq 1 ]]; then
    give_to_server "$dir"
    as_server test -w "$dir" -a -x "$dir" || root=""
  fi
  if [[ -n "$root" && ${#root} -gt 80 ]]; then  # $root/sock/.s.PGSQL.NNNNN must fit in 107 bytes
    root=""
  fi
  if [[ -z "$root" ]]; then
    root=$(mktemp -d /tmp/krill-pg.XXXXXX)
    chmod 0755 "$root"
    give_to_server "$root"
  fi
  printf 'root=%s\nbindir=%s\n' "$root" "$bindir" >"$dir/state"

  local data=$root/data sock=$root/sock log=$root/log
  mkdir -p "$sock"
  : >"$log"
  give_to_server "$sock" "$log"
  [[ "$root" == "$dir" ]] || ln -sfn "$log" "$dir/log"

  # The superuser's password: DIR/password for the tests (0600, the caller's); a copy for initdb
  # in the server's folder, removed once read.
  local password
  password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  (umask 077 && printf '%s\n' "$password" >"$dir/password")
  (umask 077 && printf '%s\n' "$password" >"$root/pwfile")
  give_to_server "$root/pwfile"

  echo "== initdb ($(date -Is))" >>"$log"
  if ! as_server "$bindir/initdb" -D "$data" -U krill --pwfile="$root/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync \
    >>"$log" 2>&1; then
    rm -f "$root/pwfile"
    fail "initdb failed"
  fi
  rm -f "$root/pwfile"

  # Settings in a file of their own, so that a restart (pg_ctl restart) keeps them and the port.
  echo "include 'krill-test.conf'" >>"$data/postgresql.conf"
  local port="" attempt
  for ((attempt = 1; attempt <= 10; attempt++)); do
    port=$((15000 + RANDOM % 17000))  # below Linux's ephemeral ports (32768-60999)
    cat >"$data/krill-test.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
log_min_messages = warning
log_connections = off
EOF
    give_to_server "$data/krill-test.conf"
    echo "== start on port $port ($(date -Is))" >>"$log"
    if as_server "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 60 >>"$log" 2>&1; then
      break
    fi
    if tail -n 20 "$log" | grep -qE 'could not (bind|create lock file)|Address already in use|could not create any TCP/IP sockets'; then
      say "port $port is taken, trying another"
      port=""
      continue
    fi
    fail "the server did not start"
  done
  [[ -n "$port" ]] || fail "found no free port in 10 tries"
  wait_ready "$bindir" "$sock" "$port" || fail "the server started but does not answer (pg_isready)"

  local tmp=$dir/server.env.tmp
  cat >"$tmp" <<EOF
PGTEST_HOST=$sock
PGTEST_PORT=$port
PGTEST_USER=krill
PGTEST_PASSWORD=$password
PGTEST_BINDIR=$bindir
PGTEST_DATA=$data
PGTEST_URL=postgresql://krill@/postgres?host=$sock&port=$port
EOF
  chmod 0600 "$tmp"
  mv -f "$tmp" "$dir/server.env"
  say "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') up on 127.0.0.1:$port and $sock (as $(id -un "${server_uid:-$(id -u)}")), $dir/server.env"
}

restart() {
  [[ -f "$dir/server.env" ]] || fail "no server in $dir (no server.env): start it first"
  local bindir data sock port
  bindir=$(read_kv "$dir/server.env" PGTEST_BINDIR)
  data=$(read_kv "$dir/server.env" PGTEST_DATA)
  sock=$(read_kv "$dir/server.env" PGTEST_HOST)
  port=$(read_kv "$dir/server.env" PGTEST_PORT)
  echo "== restart ($(date -Is))" >>"$dir/log"
  as_server "$bindir/pg_ctl" restart -D "$data" -l "$(state_root)/log" -m fast -w -t 60 \
    >>"$dir/log" 2>&1 || fail "the server did not restart"
  wait_ready "$bindir" "$sock" "$port" || fail "the server restarted but does not answer (pg_isready)"
}

case "$cmd" in
  start) start ;;
  stop) stop_and_remove ;;
  restart) restart ;;
  status)
    if is_up; then
      echo "up: $(read_kv "$dir/server.env" PGTEST_URL)"
    else
      echo "not running (in $dir)"
      exit 3
    fi
    ;;
  *) usage ;;
esac
