#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb in DIR as an unprivileged user, listening on
# 127.0.0.1 only (a free port) with its unix sockets inside DIR, password (SCRAM) authentication.
#   .ci/postgres.sh start DIR   -> prints the admin URL (postgres://...) on stdout
#   .ci/postgres.sh start DIR durable -> the same with PostgreSQL's durable defaults (fsync on), for benchmarks
#   .ci/postgres.sh stop DIR    -> stops the cluster (DIR is left for the caller to remove)
# Uses the binaries on PATH or Debian's /usr/lib/postgresql/<version>/bin. Run as root, the cluster
# belongs to the system user "latchkey-pg" (created when missing): root cannot run postgres.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
mode=${3:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

bindir=""
if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
  bindir=$(dirname "$(command -v pg_ctl)")
else
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then bindir=$d; break; fi
  done
fi
[ -n "$bindir" ] || { echo "no PostgreSQL binaries (pg_ctl, initdb) found" >&2; exit 3; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u latchkey-pg -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if [ "$(id -u)" -eq 0 ] && ! id latchkey-pg >/dev/null 2>&1; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin latchkey-pg
    fi
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown latchkey-pg "$dir"
    chmod 700 "$dir"
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" > "$dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown latchkey-pg "$dir/pwfile"
    as_owner "$bindir/initdb" -D "$dir/data" -U latchkey --pwfile="$dir/pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    mkdir -p "$dir/sock"
    [ "$(id -u)" -eq 0 ] && chown latchkey-pg "$dir/sock"
    # A free loopback port: ask the kernel, then retry if another process took it meanwhile.
    for attempt in 1 2 3 4 5; do
      port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
      # Throwaway data: fsync off makes the suite faster and loses nothing that matters. A benchmark
      # asks for "durable" and gets PostgreSQL's defaults, comparable with SQLite's synchronous=FULL.
      speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
      [ "$mode" = "durable" ] && speed=""
      if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock $speed -c max_connections=300" \
        start >/dev/null 2>&1; then
        echo "postgres://latchkey:$password@127.0.0.1:$port/postgres"
        exit 0
      fi
    done
    cat "$dir/server.log" >&2 || true
    exit 1
    ;;
  stop)
    [ -d "$dir/data" ] || exit 0
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
