#!/usr/bin/env bash
# A multi-process Quorum on one machine, on the local PostgreSQL and Redis:
# WEB gunicorn processes on ports 8001.. and WORKERS Celery workers, plus beat.
# Usage: deploy/local-cluster.sh [WEB=2] [WORKERS=2]   (Ctrl-C stops everything)
set -euo pipefail
cd "$(dirname "$0")/.."
web=${1:-2}
workers=${2:-2}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/quorum}
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}
db=${DATABASE_URL##*/}
psql -q "${DATABASE_URL%/*}/postgres" -tc "SELECT 1 FROM pg_database WHERE datname='$db'" |
  grep -q 1 || psql -q "${DATABASE_URL%/*}/postgres" -c "CREATE DATABASE $db"
.venv/bin/python manage.py migrate --noinput
trap 'kill 0' EXIT INT TERM
for i in $(seq "$web"); do
  GUNICORN_BIND=127.0.0.1:$((8000 + i)) GUNICORN_WORKERS=2 \
    .venv/bin/gunicorn -c deploy/gunicorn.conf.py crowd.wsgi &
  echo "web $i: http://127.0.0.1:$((8000 + i))"
done
for i in $(seq "$workers"); do
  .venv/bin/celery -A crowd worker -n "worker$i@%h" --loglevel=INFO --concurrency=1 &
done
.venv/bin/celery -A crowd beat --loglevel=INFO --schedule "${TMPDIR:-/tmp}/quorum-beat" &
wait
