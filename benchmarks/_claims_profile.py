"""Where a claim's time goes: its queries, one by one, and the plan of the locking query.

Runs one claim and one submit of a bench worker with Django's query capture, inside a
transaction that is rolled back, so the probe leaves the queue as it found it. The plan is
taken with EXPLAIN (ANALYZE, BUFFERS) on the SQL the service actually sent (captured, with
its parameters), so it follows the code under test as it changes.
"""

from __future__ import annotations

PAYLOAD = {"regions": []}


class _Rollback(Exception):
    pass


def _shorten(sql: str, width: int = 150) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 3] + "..."


def claim_probe(*, worker_id: int, project_id: int) -> dict:
    """One warm claim and submit (after a first pair that pays the auto-grant), each query
    timed with perf_counter around the driver call, and the locking query's plan."""
    import time

    from django.db import connection, transaction

    from crowd.accounts.models import User
    from workflows.pipeline.claims import assignment_claim_next
    from workflows.pipeline.submit import annotation_submit

    worker = User.objects.get(pk=worker_id)
    captured: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ms = (time.perf_counter() - t0) * 1000
            captured.append(
                (ms, connection.ops.last_executed_query(context["cursor"], sql, params))
            )

    def pair() -> tuple[list, list, float, float]:
        captured.clear()
        t0 = time.perf_counter()
        result = assignment_claim_next(worker=worker, project_id=project_id)
        t1 = time.perf_counter()
        claim_q = list(captured)
        captured.clear()
        annotation_submit(worker=worker, assignment_id=result.assignment.pk, payload=PAYLOAD)
        t2 = time.perf_counter()
        return claim_q, list(captured), (t1 - t0) * 1000, (t2 - t1) * 1000

    # The PostgreSQL fast claim sends its statement on psycopg's own prepared-statement
    # cursor, past Django's execute wrappers: time that round trip.
    from workflows.pipeline import claim_sql

    round_trip = claim_sql._claim_round_trip
    prepared: list[dict] = []

    def timed_round_trip(conn, params, *, with_brief):
        t0 = time.perf_counter()
        try:
            return round_trip(conn, params, with_brief=with_brief)
        finally:
            captured.append(((time.perf_counter() - t0) * 1000, "fast claim statement"))
            prepared.append((params, with_brief))

    report: dict = {}
    claim_sql._claim_round_trip = timed_round_trip
    try:
        with transaction.atomic(), connection.execute_wrapper(timed):
            pair()  # the first claim of a worker also auto-grants; time the steady state
            claim_q, submit_q, claim_ms, submit_ms = pair()
            report["claim_ms"], report["submit_ms"] = claim_ms, submit_ms
            report["claim_queries"] = [(ms, _shorten(sql)) for ms, sql in claim_q]
            report["submit_queries"] = [(ms, _shorten(sql)) for ms, sql in submit_q]
            locking = [sql for _, sql in claim_q if "SKIP LOCKED" in sql]
            # The plan of the next claim's pick (this claim's row is already taken).
            if prepared:
                import psycopg

                params, with_brief = prepared[-1]
                sql, names = claim_sql._statement(with_brief)
                with psycopg.RawCursor(connection.connection) as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, [params[n] for n in names])
                    report["plan"] = [row[0] for row in cursor.fetchall()]
            elif locking:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + locking[0])
                    report["plan"] = [row[0] for row in cursor.fetchall()]
            raise _Rollback
    except _Rollback:
        pass
    finally:
        claim_sql._claim_round_trip = round_trip
    return report


def plan_summary(plan: list[str]) -> str:
    """The figures of a plan worth a table cell: execution time and rows the scan threw away."""
    import re

    text = "\n".join(plan)
    exec_ms = re.search(r"Execution Time: ([\d.]+) ms", text)
    removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", text))
    scanned = re.search(
        r"(Index Scan|Index Only Scan|Seq Scan|Bitmap Heap Scan)[^\n]*on projects_item", text
    )
    return (
        f"{float(exec_ms.group(1)) if exec_ms else float('nan'):.2f} ms, "
        f"{removed} rows filtered, {scanned.group(1) if scanned else '?'}"
    )
