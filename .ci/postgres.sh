#!/usr/bin/env bash
# Installs PostgreSQL from Debian packages if missing, starts it on loopback, and creates the test role.
# Prints the URL the tests read from FLOTILLA_TEST_POSTGRES_URL. Safe to run more than once.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get install -y -q postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^${version} main"; then
  pg_createcluster "$version" main >/dev/null
fi
conf="/etc/postgresql/${version}/main/postgresql.conf"
grep -q "^listen_addresses = '127.0.0.1'" "$conf" || echo "listen_addresses = '127.0.0.1'" >>"$conf"
grep -q "^max_connections = 200" "$conf" || echo "max_connections = 200" >>"$conf"
pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start" >&2; tail -n 20 /var/log/postgresql/*.log >&2; exit 1; }
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flotilla') THEN
    CREATE ROLE flotilla LOGIN CREATEDB PASSWORD 'flotilla';
  END IF;
END $$;
-- DROP DATABASE … WITH (FORCE) in the tests may have to stop an autovacuum worker on that database.
GRANT pg_signal_backend TO flotilla;
SQL
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'flotilla'\"" | grep -q 1 ||
  su postgres -c "createdb -O flotilla flotilla"
echo "FLOTILLA_TEST_POSTGRES_URL=postgres://flotilla:flotilla@127.0.0.1:5432/flotilla"
