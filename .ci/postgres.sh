# Sourced by .ci/run: a throwaway PostgreSQL server for the disposition tests (tests/test_dispositions.py run
# every test on SQLite and on it). Installs Debian's `postgresql` with apt when its binaries are missing, runs
# initdb + pg_ctl as the `postgres` user (root cannot run a server) in a temporary folder, on a free loopback
# port with trust authentication for a local test user, and exports PTCHECK_TEST_POSTGRES; the server is
# stopped and its folder removed when .ci/run exits. With CI=true the PostgreSQL tests fail, not skip, if the
# variable is missing.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
pg_dir=$(mktemp -d /tmp/ptcheck-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_as() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
pg_as "$pg_bin/initdb -D $pg_dir/data -U postgres -A trust --no-sync -E UTF8" >/dev/null
pg_as "$pg_bin/pg_ctl -D $pg_dir/data -l $pg_dir/log -w -o '-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null
pg_as "$pg_bin/psql -h 127.0.0.1 -p $pg_port -U postgres -qc 'CREATE ROLE ptcheck LOGIN' -c 'CREATE DATABASE ptcheck_test OWNER ptcheck'" >/dev/null
export PTCHECK_TEST_POSTGRES="postgresql://ptcheck@127.0.0.1:$pg_port/ptcheck_test"
trap 'pg_as "$pg_bin/pg_ctl -D $pg_dir/data -m fast stop" >/dev/null 2>&1; rm -rf "$pg_dir"' EXIT
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') for the tests: $PTCHECK_TEST_POSTGRES"
