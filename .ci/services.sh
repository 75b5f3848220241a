#!/usr/bin/env bash
# Install and start what the tests need, from Debian's packages: PostgreSQL and Chromium.
# Idempotent: safe to run again on a machine that already has them. Prints the exports to eval.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
  pg_createcluster "$ver" main >&2
fi
# PostgreSQL's default 100 connections hold about 45 workers: 256 simulated workers
# (benchmarks/claims.py) hold 2 each and up to 4 in a burst (automl/storage/capacity.py; 517 at
# the peak measured), beside the tests' own.
max_conn=1000
if [ "$(pg_conftool -s "$ver" main show max_connections 2>/dev/null || echo 0)" != "$max_conn" ]; then
  pg_conftool "$ver" main set max_connections "$max_conn" >&2
  pg_ctlcluster "$ver" main restart >&2 2>/dev/null || true  # only a restart applies it
fi
pg_ctlcluster "$ver" main start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
su postgres -c "psql -q -v ON_ERROR_STOP=1" >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'automl') THEN
    CREATE ROLE automl LOGIN SUPERUSER PASSWORD 'automl-ci';
  END IF;
END $$;
SQL
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='automl_test'\"" | grep -q 1 \
  || su postgres -c "createdb -O automl automl_test" >&2
echo "export AUTOML_TEST_POSTGRES_URL=postgresql+psycopg://automl:automl-ci@127.0.0.1:5432/automl_test"
