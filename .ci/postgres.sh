#!/usr/bin/env bash
# Start a local PostgreSQL from Debian packages and create the meterops test role and database.
# Prints the SQLAlchemy URL on its last line. Safe to run twice.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
version=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
if [ -z "$version" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  $SUDO pg_createcluster "$version" main >/dev/null
fi
$SUDO pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 && break
  sleep 1
done
pg_isready -h 127.0.0.1 >/dev/null

psql_admin() { $SUDO -u postgres psql -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(id -u)" -eq 0 ]; then psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA $(printf '%q ' "$@")"; }; fi

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='meterops'")" != "1" ]; then
  psql_admin -c "CREATE ROLE meterops LOGIN PASSWORD 'meterops' CREATEDB"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='meterops_test'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE meterops_test OWNER meterops"
fi
echo "postgresql+psycopg://meterops:meterops@127.0.0.1:5432/meterops_test"
