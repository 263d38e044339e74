"""Assignment claims on PostgreSQL: claims per second and latency against the machine's ceiling.

    python -m benchmarks.assignment_claims [--seconds 10] [--clients 1,4,16,64] [--items 20000]
        [--loop claim|claim+submit] [--workers 40000]

For each client count C the machine's ceiling is measured just before the claim run, at the
same C: ``pgbench -N`` (one short write transaction: three single-row updates and an insert).
Then C processes (forked from one that set Django up, each with its own psycopg pool) call
``assignment_claim_next`` in a loop for the same number of seconds, each call a different
worker's first claim of the run (``--loop claim``, the default: the claim service alone, as
issue 4 asks; the pool of ``--workers`` is split between the processes), or each of a few
workers claiming and submitting in turn (``--loop claim+submit``: what a worker does; the
submit then costs as much of the loop as the claim). Only the claim is timed per call. The
figures are ratios (DESIGN.md §5): claims/s ÷ pgbench TPS, and claim p99 ÷ pgbench mean
latency. Then the HTTP endpoint: a real gunicorn (deploy/gunicorn.conf.py minus the access
log) and 16 client processes doing the same loop over keep-alive ``http.client``
connections, against pgbench at 16 clients.

Targets (issue 4): service ≥ 0.30 x ceiling at 1-16 clients; at 64 clients ≥ 0.25 x and
≥ 0.85 x its own 16-client rate; claim p99 ≤ 8 x the paired mean transaction latency; the
endpoint ≥ 0.10 x its ceiling.

The load generators share the machine's cores with PostgreSQL: that is the protocol, and why
every figure is paired. Each run starts from the same queue (the bench workers' rows are
deleted and the items reset, then VACUUM ANALYZE and a CHECKPOINT), so the client counts
compare like with like. After each run the claim's queries and the plan of its locking query
are probed on the state the run left, to say where the time went.

``--pgbouncer N`` sends the service clients through a real PgBouncer in transaction mode holding
N server connections, with prepared statements off (Debian's PgBouncer is 1.18, which cannot
carry them); pgbench stays direct: the ceiling is the machine's. gunicorn stays direct unless
``--endpoint-pgbouncer``, as deployed: its 4 processes of 2 threads hold 8 connections, which
need no pooler (README, "Behind a connection pooler"), while 16 or 64 claiming processes do.

Needs a local PostgreSQL superuser ``postgres`` on 127.0.0.1:5432 and ``pgbench``. Creates and
drops two throwaway databases (``quorum_bench_claims``, ``quorum_pgbench_claims``). Results are
printed and written as JSON to benchmarks/results/ (git-ignored). A script, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import _claims_db as db
from benchmarks._claims_clients import Signals, http_client, service_client
from benchmarks._cpu_split import CpuSplit
from tests import pgbouncer
from tests.servers import free_port, wait_listening

BENCH_DB, PGBENCH_DB = "quorum_bench_claims", "quorum_pgbench_claims"
RESULTS = Path(__file__).resolve().parent / "results"
READY_TIMEOUT = 300  # the fork server imports Django first; then 64 clients connect on 2 cores

SERVICE_RATIO, SERVICE_RATIO_64, KEEP_OF_16, P99_FACTOR, ENDPOINT_RATIO = 0.30, 0.25, 0.85, 8, 0.10


def bench_env(pool_size: int, broker_url: str) -> dict[str, str]:
    """Production-like settings for every process of the run (children inherit os.environ):
    DEBUG off (no query log kept per call), a small pool per process, quiet logs."""
    return {
        "DJANGO_SETTINGS_MODULE": "crowd.settings",
        "DATABASE_URL": db.pg_url(BENCH_DB),
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": str(pool_size),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "DJANGO_STATIC_ROOT": tempfile.mkdtemp(prefix="quorum-bench-static-"),
        "DJANGO_LOG_LEVEL": "WARNING",
        # A submit that fills an item enqueues its consensus run. As deployed, that is a
        # message to a broker, paid by the submit; nothing consumes it during the bench. With
        # no broker the task would run inline inside the submit and be timed as its cost.
        "CELERY_BROKER_URL": broker_url,
    }


def broker_claim(url: str):
    """The bench's Redis database, refused unless empty: it is flushed at the end."""
    import redis

    client = redis.Redis.from_url(url)
    if client.dbsize():
        raise SystemExit(f"{url} holds keys; pass --broker with an empty Redis database")
    return client


# -- statistics ------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


def summarise(results: list[dict], seconds: float) -> dict:
    lat = sorted(x for r in results for x in r["latencies"])
    sub = sorted(x for r in results for x in r["submit_latencies"])
    nothing: dict[str, int] = {}
    for r in results:
        for reason, n in r["nothing"].items():
            nothing[reason] = nothing.get(reason, 0) + n
    errors = [e for r in results for e in r["errors"]]
    claims = max(len(lat), 1)
    return {
        "client_cpu_ms_per_claim": [
            sum(r["cpu_s"][k] for r in results) * 1000 / claims for k in (0, 1)
        ],
        "gc_collections": [sum(r["gc"]["collections"][g] for r in results) for g in range(3)],
        "gc_ms_per_claim": sum(r["gc"]["seconds"] for r in results) * 1000 / claims,
        "claims": len(lat),
        "claims_per_s": len(lat) / seconds,
        "p50_ms": percentile(lat, 0.50) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
        "submit_p50_ms": percentile(sub, 0.50) * 1000,
        "nothing_for_you": nothing,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


# -- one paired run ----------------------------------------------------------------------------


def paired_run(*, clients: int, seconds: int, target, args_for) -> dict:
    """Start the client processes and let them warm up, measure pgbench -N at the same client
    count, then set the clients going. Starting them first keeps the ceiling *just* before the
    run and off the start's CPU burst.

    The clients fork from a server that imported Django once (``_claims_preload``), as
    deployed processes do (gunicorn's ``preload_app``, Celery's prefork pool): 64 processes
    that each imported their own Django spent 0.45-0.48 ms of CPU per claim on the clients'
    side, 64 forked from one 0.38 ms (benchmarks/README.md). The server starts with the
    first client, so it reads the environment as it is then (the clients' ``DATABASE_URL``
    included)."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["benchmarks._claims_preload"])
    signals = Signals(ready=ctx.Queue(), go=ctx.Event(), results=ctx.Queue(), release=ctx.Event())
    split = CpuSplit()
    procs = [
        ctx.Process(target=target, args=(*args_for(i), seconds, signals), daemon=True)
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    try:
        oks = [signals.ready.get(timeout=READY_TIMEOUT) for _ in procs]
        if not all(oks):
            failed = [signals.results.get(timeout=10) for _ in range(oks.count(False))]
            raise RuntimeError("client failed to start:\n" + failed[0]["errors"][0])
        db.checkpoint()
        ceiling = db.pgbench_ceiling(PGBENCH_DB, clients=clients, seconds=seconds)
        split.start()
        signals.go.set()
        out = [signals.results.get(timeout=seconds + 120) for _ in procs]
        cpu = split.stop(sum(len(r["latencies"]) for r in out))
        signals.release.set()
        for p in procs:
            p.join(timeout=30)  # gone, with their connections, before pgbench runs again
        # The same ceiling again once the clients are gone: the machine is shared, and a
        # before/after gap says how far the pair can be trusted.
        after = db.pgbench_ceiling(PGBENCH_DB, clients=clients, seconds=seconds)
    finally:
        signals.release.set()
        for p in procs:
            p.join(timeout=30 if signals.go.is_set() else 0)  # never started: nothing to wait for
            if p.is_alive():
                p.kill()
    row = {
        "clients": clients,
        "ceiling_tps": ceiling.tps,
        "ceiling_latency_ms": ceiling.latency_ms,
        "ceiling_tps_after": after.tps,
    }
    row.update(summarise(out, seconds))
    row["cpu_ms_per_claim"] = cpu
    row["ratio"] = row["claims_per_s"] / ceiling.tps
    row["p99_over_latency"] = row["p99_ms"] / ceiling.latency_ms
    return row


def probe(seeded: db.Seeded) -> dict:
    from benchmarks._claims_profile import claim_probe, plan_summary

    report = claim_probe(worker_id=seeded.worker_ids[0], project_id=seeded.project_id)
    report["claim_query_count"] = len(report.get("claim_queries", []))
    report["submit_query_count"] = len(report.get("submit_queries", []))
    report["plan_summary"] = plan_summary(report.get("plan", []))
    return report


def service_run(seeded: db.Seeded, *, clients: int, per: int, seconds: int, loop: str) -> dict:
    db.reset(seeded)
    row = paired_run(
        clients=clients,
        seconds=seconds,
        target=service_client,
        args_for=lambda i: (seeded.worker_ids[i * per : (i + 1) * per], seeded.project_id, loop),
    )
    row["kind"] = "service"
    row["probe_after"] = probe(seeded)
    return row


def endpoint_run(
    seeded: db.Seeded,
    *,
    clients: int,
    per: int,
    seconds: int,
    loop: str,
    workers: int,
    log: Path,
    base_env: dict[str, str],
):
    db.reset(seeded)
    port = free_port()
    env = {**base_env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [
                str(gunicorn),
                "-c",
                str(Path(__file__).with_name("_claims_gunicorn.py")),
                "crowd.wsgi",
            ],
            cwd=db.REPO,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_listening(port, server, name="gunicorn", timeout=60, log=lambda: f"see {log}")
            row = paired_run(
                clients=clients,
                seconds=seconds,
                target=http_client,
                args_for=lambda i: (
                    seeded.tokens[i * per : (i + 1) * per],
                    port,
                    seeded.project_id,
                    loop,
                ),
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    row["kind"] = "endpoint"
    row["gunicorn_workers"] = workers
    return row


# -- report ------------------------------------------------------------------------------------


def checks(rows: list[dict]) -> list[tuple[str, bool, str]]:
    service = {r["clients"]: r for r in rows if r["kind"] == "service"}
    out = []
    for c, r in sorted(service.items()):
        if c <= 16:
            out.append(
                (
                    f"service {c:>2} clients: claims/s >= {SERVICE_RATIO} x ceiling",
                    r["ratio"] >= SERVICE_RATIO,
                    f"{r['ratio']:.3f} x",
                )
            )
        else:
            out.append(
                (
                    f"service {c:>2} clients: claims/s >= {SERVICE_RATIO_64} x ceiling",
                    r["ratio"] >= SERVICE_RATIO_64,
                    f"{r['ratio']:.3f} x",
                )
            )
            if 16 in service:
                keep = r["claims_per_s"] / service[16]["claims_per_s"]
                out.append(
                    (
                        f"service {c:>2} clients: >= {KEEP_OF_16} x its 16-client rate",
                        keep >= KEEP_OF_16,
                        f"{keep:.3f} x",
                    )
                )
        out.append(
            (
                f"service {c:>2} clients: p99 <= {P99_FACTOR} x ceiling mean latency",
                r["p99_over_latency"] <= P99_FACTOR,
                f"{r['p99_over_latency']:.1f} x",
            )
        )
    for r in rows:
        if r["kind"] == "endpoint":
            out.append(
                (
                    f"endpoint {r['clients']} clients: claims/s >= {ENDPOINT_RATIO} x ceiling",
                    r["ratio"] >= ENDPOINT_RATIO,
                    f"{r['ratio']:.3f} x",
                )
            )
    return out


def print_report(rows: list[dict], fresh: dict, verdicts) -> None:
    head = (
        f"{'run':<9}{'C':>3} {'pgbench tps':>11} {'lat ms':>7} {'claims/s':>9} {'ratio':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'p99/lat':>7} {'submit p50':>10} {'errors':>6} "
        f"{'tps after':>9} {'client cpu':>10} {'gc':>5}  "
        "nothing-for-you"
    )
    print("\nAssignment claims vs pgbench -N (paired, same client count, measured just before)")
    print(
        "(client cpu: the client processes' user/system CPU, gc: their garbage collector, ms per claim)"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        nothing = ", ".join(f"{k} {v}" for k, v in r["nothing_for_you"].items()) or "-"
        print(
            f"{r['kind']:<9}{r['clients']:>3} {r['ceiling_tps']:>11.0f} "
            f"{r['ceiling_latency_ms']:>7.2f} {r['claims_per_s']:>9.1f} {r['ratio']:>6.3f} "
            f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {r['p99_over_latency']:>7.1f} "
            f"{r['submit_p50_ms']:>10.2f} {r['errors']:>6} {r['ceiling_tps_after']:>9.0f} "
            f"{'/'.join(f'{v:.2f}' for v in r['client_cpu_ms_per_claim']):>10} "
            f"{r['gc_ms_per_claim']:>5.3f}  {nothing}"
        )
        cpu = r["cpu_ms_per_claim"]
        print(
            f"{'':12} CPU ms per claim: postgres {cpu['postgres_ms']:.3f}, pgbouncer "
            f"{cpu['pgbouncer_ms']:.3f}, clients and the rest {cpu['other_ms']:.3f}, "
            f"idle {cpu['idle_ms']:.3f}"
        )
        for e in r["first_errors"]:
            print(f"    error: {e.splitlines()[-1] if e else e}")
    print("\nTargets (issue 4)")
    for name, ok, figure in verdicts:
        print(f"  {'PASS' if ok else 'MISS'}  {name:<58} {figure}")
    print(
        "\nWhere a claim's time goes (worker 0: a warm claim + submit, timed per query, rolled back)"
    )
    print(
        f"  fresh queue, alone: claim {fresh['claim_ms']:.2f} ms in {fresh['claim_query_count']}"
        f" queries, submit {fresh['submit_ms']:.2f} ms in {fresh['submit_query_count']}; "
        f"locking query {fresh['plan_summary']}"
    )
    for q_ms, sql in fresh.get("claim_queries", []):
        print(f"    claim  {q_ms:6.2f} ms  {sql}")
    for q_ms, sql in fresh.get("submit_queries", []):
        print(f"    submit {q_ms:6.2f} ms  {sql}")
    for r in rows:
        if "probe_after" in r:
            print(
                f"  after {r['clients']:>2}-client run: locking query "
                f"{r['probe_after']['plan_summary']}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per run (pgbench and claims)")
    parser.add_argument("--clients", default="1,4,16,64", help="service client counts")
    parser.add_argument("--items", type=int, default=20000, help="items in the project")
    parser.add_argument("--endpoint-clients", type=int, default=16)
    parser.add_argument("--loop", choices=["claim", "claim+submit"], default="claim")
    parser.add_argument(
        "--workers", type=int, default=40000, help="claim loop: workers split between clients"
    )
    parser.add_argument(
        "--workers-per-client",
        type=int,
        default=4,
        help="claim+submit loop: crowd workers each client process serves in turn",
    )
    parser.add_argument("--gunicorn-workers", type=int, default=4, help="2 x cores, as deployed")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=1,
        help="psycopg pool max per process (each process is single-threaded)",
    )
    parser.add_argument(
        "--broker",
        default="redis://127.0.0.1:6379/12",
        help="an EMPTY Redis database for the enqueued consensus tasks; flushed at the end",
    )
    parser.add_argument(
        "--pgbouncer",
        type=int,
        default=0,
        metavar="N",
        help="service clients go through a PgBouncer in transaction mode with N server "
        "connections and prepared statements off (PgBouncer before 1.21); pgbench stays direct",
    )
    parser.add_argument(
        "--endpoint-pgbouncer",
        action="store_true",
        help="with --pgbouncer: gunicorn goes through it too (default: direct)",
    )
    parser.add_argument("--skip-endpoint", action="store_true")
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument("--keep-db", action="store_true", help="leave the databases for a look")
    parser.add_argument("--json", type=Path, default=None, help="result file (default: results/)")
    args = parser.parse_args(argv)
    client_counts = [int(c) for c in args.clients.split(",") if c.strip()]
    endpoint_clients = 0 if args.skip_endpoint else args.endpoint_clients

    broker = broker_claim(args.broker)
    os.environ.update(bench_env(args.pool_size, args.broker))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    print(
        f"setting up {BENCH_DB} ({args.items} items) and {PGBENCH_DB} "
        f"(scale {args.pgbench_scale})...",
        flush=True,
    )
    db.database_recreate(BENCH_DB)
    stack = contextlib.ExitStack()
    try:
        db.migrate(dict(os.environ))
        db.pgbench_init(PGBENCH_DB, args.pgbench_scale)
        import django

        django.setup()
        most = max([*client_counts, endpoint_clients])
        submits = args.loop == "claim+submit"
        seeded = db.seed(
            items=args.items,
            workers=args.workers_per_client * most if submits else args.workers,
        )

        def per(clients: int) -> int:
            return args.workers_per_client if submits else args.workers // clients

        fresh = probe(seeded)
        direct_env = dict(os.environ)  # gunicorn's, unless --endpoint-pgbouncer
        if args.pgbouncer:
            # Only the processes started from here on (clients) read these: this
            # process's Django, which resets and probes between runs, stays direct.
            port = stack.enter_context(
                pgbouncer.running(
                    host=db.PG_HOST, port=db.PG_PORT, user=db.PG_USER, pool_size=args.pgbouncer
                )
            )
            os.environ["DATABASE_URL"] = f"postgres://{db.PG_USER}@127.0.0.1:{port}/{BENCH_DB}"
            os.environ["DATABASE_PREPARE_THRESHOLD"] = "off"
        rows = []
        for c in client_counts:
            print(f"service, {c} clients, loop {args.loop}...", flush=True)
            rows.append(
                service_run(seeded, clients=c, per=per(c), seconds=args.seconds, loop=args.loop)
            )
        if endpoint_clients:
            print(
                f"endpoint, {endpoint_clients} clients, gunicorn x{args.gunicorn_workers}...",
                flush=True,
            )
            rows.append(
                endpoint_run(
                    seeded,
                    clients=endpoint_clients,
                    per=per(endpoint_clients),
                    seconds=args.seconds,
                    loop=args.loop,
                    workers=args.gunicorn_workers,
                    log=RESULTS / f"assignment_claims-{stamp}.gunicorn.log",
                    base_env=dict(os.environ) if args.endpoint_pgbouncer else direct_env,
                )
            )
        verdicts = checks(rows)
        if args.pgbouncer:
            print(
                f"\nservice clients{' and gunicorn' if args.endpoint_pgbouncer else ''} through "
                f"PgBouncer, {args.pgbouncer} server connections, not prepared"
            )
        print_report(rows, fresh, verdicts)
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=db.REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "crowd", "workflows"],
            cwd=db.REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
        path = args.json or RESULTS / f"assignment_claims-{stamp}.json"
        path.write_text(
            json.dumps(
                {
                    "when": stamp,
                    "commit": commit,
                    "code_under_test_modified": dirty.splitlines(),
                    "args": {
                        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                    },
                    "cpus": os.cpu_count(),
                    "rows": rows,
                    "fresh_probe": fresh,
                    "targets": [{"target": n, "pass": ok, "figure": f} for n, ok, f in verdicts],
                },
                indent=2,
            )
        )
        print(f"\nwrote {path} ({time.monotonic() - started:.0f} s)")
        return 0 if all(ok for _, ok, _ in verdicts) else 1
    finally:
        stack.close()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep_db:
            db.database_drop(BENCH_DB)
            db.database_drop(PGBENCH_DB)
        broker.flushdb()  # the consensus messages the submits enqueued


if __name__ == "__main__":
    sys.exit(main())
