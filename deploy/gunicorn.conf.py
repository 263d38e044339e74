"""gunicorn settings for Quorum's stateless web processes (values from the environment)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# A few processes per core. Each has its own psycopg pool (DATABASE_POOL_MAX_SIZE), so
# workers x pool size must stay under the server's max_connections (or use PgBouncer).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
# Two threads per process (gunicorn's gthread worker; 1 means its sync worker): connections
# stay open between requests (keep-alive), where the sync worker makes each client connect
# again, and one thread's database wait lets the other run. 16 clients claimed about 10% more
# per second than with sync workers (benchmarks/README.md).
threads = int(os.environ.get("GUNICORN_THREADS", 2))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
# The application is imported once, in the master, and the workers fork from it: a worker
# starts, or restarts after max_requests, in milliseconds instead of importing Django, DRF and
# SciPy again (seconds of CPU, taken from the workers serving meanwhile). Nothing connects at
# import; each worker opens its own database pool on its first request.
preload_app = True
# Restarts bound slow memory growth. At a few hundred claims per second per worker, 2,000
# requests meant a restart every few seconds.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 20000))
max_requests_jitter = max_requests // 10
accesslog = "-"
