"""gunicorn settings for Quorum's stateless web processes (values from the environment)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers; the database is the bottleneck, so a few per core is enough. Each process has
# its own psycopg pool (DATABASE_POOL_MAX_SIZE), so workers x pool size must stay under the
# server's max_connections (or use PgBouncer).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
