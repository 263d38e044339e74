"""Why the claim statement runs inside a PL/pgSQL function: the server's CPU per claim, four ways.

    python -m benchmarks.claim_planning [--claims 2000] [--rounds 4] [--items 20000]

One process on the claims benchmark's seeded project (its own throwaway database,
``quorum_bench_planning``). Each way leases tasks to fresh workers over its own connection, in
interleaved blocks (``--rounds``) so that the machine's drift falls on all four alike:

* **statement, prepared**: the bare statement as a psycopg prepared statement: the baseline,
  what the claim ran until the function came;
* **statement, planned per call**: the same with prepared statements off, as behind PgBouncer
  before 1.21 in transaction mode (``DATABASE_PREPARE_THRESHOLD=off``);
* **function, prepared call** and **function, call planned per call**: ``SELECT * FROM
  quorum_claim_...($1, $2, $3)``, whose inner plan the server caches either way.

Printed per claim: wall time, this process's CPU, the server backend's CPU (``/proc``, so the
database must be on this machine), and the backend CPU's ratio to the baseline's. A script,
not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from benchmarks import _claims_db as db
from benchmarks._cpu_split import process_cpu_seconds

BENCH_DB = "quorum_bench_planning"
WAYS = (
    ("statement, prepared", "statement", True),
    ("statement, planned per call", "statement", False),
    ("function, prepared call", "function", True),
    ("function, call planned per call", "function", False),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=2000, help="per way")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved blocks per way")
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="crowd.settings",
        DATABASE_URL=db.pg_url(BENCH_DB),
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="claim-planning-benchmark-" * 3,
        DJANGO_LOG_LEVEL="WARNING",
    )
    per_block = args.claims // args.rounds
    print(f"setting up {BENCH_DB} ({args.items} items)...", flush=True)
    db.database_recreate(BENCH_DB)
    try:
        db.migrate(dict(os.environ))
        import django

        django.setup()
        import psycopg
        from django.db import connection
        from django.utils import timezone

        from workflows.pipeline import claim_sql

        seeded = db.seed(items=args.items, workers=per_block * args.rounds * len(WAYS) + 1)
        connection.ensure_connection()
        claim_sql.claim_functions_install(connection)
        statement, names = claim_sql._statement(False)
        call = claim_sql._function(False).call
        sql = {"statement": statement, "function": call}

        conns = {}
        for label, _, prepared in WAYS:
            conn = psycopg.connect(
                host=db.PG_HOST, port=db.PG_PORT, user=db.PG_USER, dbname=BENCH_DB, autocommit=True
            )
            conn.prepare_threshold = 0 if prepared else None
            conns[label] = conn
        totals = {label: [0.0, 0.0, 0.0, 0] for label, _, _ in WAYS}
        workers = iter(seeded.worker_ids)
        for _ in range(args.rounds):
            for label, kind, _ in WAYS:
                conn, total = conns[label], totals[label]
                pid = conn.info.backend_pid
                block = [next(workers) for _ in range(per_block)]
                t0, c0, b0 = time.perf_counter(), time.process_time(), process_cpu_seconds(pid)
                for worker in block:
                    params = {"now": timezone.now(), "project": seeded.project_id, "worker": worker}
                    with psycopg.RawCursor(conn) as cursor:
                        cursor.execute(sql[kind], [params[n] for n in names])
                        if cursor.fetchone() is None:
                            raise RuntimeError(f"{label}: no lease for worker {worker}")
                total[0] += time.perf_counter() - t0
                total[1] += time.process_time() - c0
                total[2] += process_cpu_seconds(pid) - b0
                total[3] += len(block)
        for conn in conns.values():
            conn.close()

        base = totals[WAYS[0][0]]
        base_backend = base[2] / base[3]
        print(f"\nClaim statement, {per_block * args.rounds} claims per way, {args.rounds} rounds")
        head = f"{'way':<34}{'wall ms':>9}{'python ms':>11}{'backend ms':>12}{'backend ratio':>15}"
        print(head)
        print("-" * len(head))
        for label, _, _ in WAYS:
            wall, py, backend, n = totals[label]
            print(
                f"{label:<34}{1000 * wall / n:>9.3f}{1000 * py / n:>11.3f}"
                f"{1000 * backend / n:>12.3f}{(backend / n) / base_backend:>15.2f}"
            )
        return 0
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            db.database_drop(BENCH_DB)


if __name__ == "__main__":
    sys.exit(main())
