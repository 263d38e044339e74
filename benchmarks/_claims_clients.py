"""Client processes of the assignment-claims benchmark (forked from a server that set Django up).

Each process serves crowd workers in turn, as a web process serves many people. Two loops:

* ``claim`` (the issue's protocol: the claim service in a loop): every call is a different
  worker's first claim, so every call leases a new task (a worker holding a lease would get
  that lease back, a cheaper answer that is not a claim). The process's slice of workers must
  outlast the run; running out is reported as an error.
* ``claim+submit``: a few workers each claim, submit, claim again, as a worker does.

Only the claim is timed per call; claims per second is the loop's rate. A process reports a
dict on the result queue; a failure is reported, never raised, so the parent can print it
instead of hanging on a missing result.
"""

from __future__ import annotations

import gc
import http.client
import itertools
import json
import os
import time
import traceback
from typing import Any, NamedTuple

PAYLOAD = {"regions": []}  # "nothing here": valid for every region kind, cheap to validate


def _result(**fields) -> dict:
    base = {
        "claims": 0,
        "latencies": [],
        "submit_latencies": [],
        "nothing": {},
        "errors": [],
        "cpu_s": [0.0, 0.0],  # this process's CPU over the timed loop: user, system
        "gc": {"collections": [0, 0, 0], "seconds": 0.0},  # the collector's passes in the loop
    }
    base.update(fields)
    return base


class WorkersExhausted(Exception):
    """A claim-only process used every worker of its slice before the run ended."""


def _turns(items: list, *, cycle: bool):
    """The workers (or their tokens) in turn: round and round, or each once."""
    yield from itertools.cycle(items) if cycle else items
    raise WorkersExhausted(f"all {len(items)} workers of this process claimed; seed more")


class _CollectorWatch:
    """Counts the garbage collector's passes (by generation) and their time into ``tally``."""

    def __init__(self, tally: dict) -> None:
        self.tally, self.started = tally, 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.tally["collections"][info["generation"]] += 1
            self.tally["seconds"] += time.perf_counter() - self.started

    def stop(self) -> None:
        gc.callbacks.remove(self)


class Signals(NamedTuple):
    """Between the parent and its client processes: each says it is ready (or failed), waits
    for ``go``, reports its result, then holds its connection until ``release``."""

    ready: Any  # multiprocessing queues and events, of the parent's context
    go: Any
    results: Any
    release: Any


def _run_loop(claim, submit, loop: str, seconds: float, signals: Signals, idle=None) -> None:
    """Warm up with one claim (and submit, if the loop submits) to open the connection and
    fill caches, say ready, wait for the start signal, then loop for ``seconds``, report, and
    hold the connection until released. ``claim`` returns an assignment id or a reason
    string (nothing for you); ``submit`` takes the id and runs only in the ``claim+submit``
    loop."""
    if loop != "claim+submit":
        submit = None
    out = _result()
    warm = claim()
    if isinstance(warm, int) and submit is not None:
        submit(warm)
    if idle is not None:
        idle()
    signals.ready.put(True)
    signals.go.wait()
    collector = _CollectorWatch(out["gc"])
    cpu0 = os.times()
    end = time.perf_counter() + seconds
    lat, sub_lat, nothing = out["latencies"], out["submit_latencies"], out["nothing"]
    while True:
        t0 = time.perf_counter()
        if t0 >= end:
            break
        try:
            got = claim()
        except WorkersExhausted as exc:
            out["errors"].append(str(exc))
            break
        except Exception as exc:  # a benchmark reports errors; the target is zero of them
            out["errors"].append(f"claim: {type(exc).__name__}: {exc}"[:300])
            continue
        t1 = time.perf_counter()
        if not isinstance(got, int):
            nothing[got] = nothing.get(got, 0) + 1
            time.sleep(0.01)  # nothing left: do not spin on the database
            continue
        lat.append(t1 - t0)
        if submit is None:
            continue
        try:
            submit(got)
        except Exception as exc:
            out["errors"].append(f"submit: {type(exc).__name__}: {exc}"[:300])
            continue
        sub_lat.append(time.perf_counter() - t1)
    cpu1 = os.times()
    out["cpu_s"] = [cpu1.user - cpu0.user, cpu1.system - cpu0.system]
    collector.stop()
    out["claims"] = len(lat)
    signals.results.put(out)
    # A direct connection's server process ends with it, and its CPU leaves /proc with it:
    # stay connected until the parent has read the CPU split.
    signals.release.wait(timeout=120)


def service_client(
    worker_ids: list[int],
    project_id: int,
    loop: str,
    seconds: float,
    signals: Signals,
) -> None:
    """Call the claim (and submit) services directly (no HTTP), in this process's own
    Django with its own small connection pool (DATABASE_* from the inherited environment)."""
    try:
        import django

        django.setup()
        from django.db import connection

        from crowd.accounts.models import User
        from crowd.common.exceptions import NothingForYou
        from workflows.pipeline.claims import assignment_claim_next
        from workflows.pipeline.submit import annotation_submit

        workers = _turns(
            list(User.objects.filter(pk__in=worker_ids).order_by("pk")),
            cycle=loop == "claim+submit",
        )
        current = [None]

        def claim():
            current[0] = worker = next(workers)
            try:
                return assignment_claim_next(worker=worker, project_id=project_id).assignment.pk
            except NothingForYou as exc:
                return exc.reason

        def submit(assignment_id: int) -> None:
            annotation_submit(worker=current[0], assignment_id=assignment_id, payload=PAYLOAD)

        def idle() -> None:
            # Hand the connection back while pgbench measures the ceiling: 64 idle sessions
            # plus pgbench's 64 exceed a stock max_connections of 100. The first timed claim
            # opens a fresh pool (one connect in ~10 s of claims).
            connection.close()
            connection.close_pool()

        _run_loop(claim, submit, loop, seconds, signals, idle=idle)
    except BaseException:
        signals.ready.put(False)
        signals.results.put(_result(errors=[traceback.format_exc()]))


def http_client(
    tokens: list[str],
    port: int,
    project_id: int,
    loop: str,
    seconds: float,
    signals: Signals,
) -> None:
    """The same loop through the API: ``http.client`` keeps the connection alive where the
    server allows it (gunicorn's threaded workers do; with ``GUNICORN_THREADS=1``, its sync
    workers close after each response and http.client reconnects, which the client pays)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = [
            {"Authorization": f"Token {token}", "Content-Type": "application/json"}
            for token in tokens
        ]
        turns = _turns(headers, cycle=loop == "claim+submit")
        current = [headers[0]]
        body = json.dumps({"payload": PAYLOAD})

        def post(path: str, data: str | None):
            conn.request("POST", path, body=data, headers=current[0])
            response = conn.getresponse()
            return response.status, response.read()

        def claim():
            current[0] = next(turns)
            status, raw = post(f"/api/v1/projects/{project_id}/assignments/next/", None)
            if status in (200, 201):
                return int(json.loads(raw)["id"])
            if status == 409:  # {"error": {"code", "message", "details": {"reason"}}}
                error = json.loads(raw).get("error", {})
                if error.get("code") == "nothing_for_you":
                    return str(error.get("details", {}).get("reason", "nothing_for_you"))
            raise RuntimeError(f"claim HTTP {status}: {raw[:200]!r}")

        def submit(assignment_id: int) -> None:
            status, raw = post(f"/api/v1/assignments/{assignment_id}/submit/", body)
            if status not in (200, 201):
                raise RuntimeError(f"submit HTTP {status}: {raw[:200]!r}")

        # While pgbench measures the ceiling the connection idles past the server's keep-alive
        # timeout: close it, so the first timed claim opens a fresh one instead of failing.
        _run_loop(claim, submit, loop, seconds, signals, idle=conn.close)
    except BaseException:
        signals.ready.put(False)
        signals.results.put(_result(errors=[traceback.format_exc()]))
