"""Small helpers shared by the benchmark scripts: timing, table printing, the machine note."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")


def best_time(fn: Callable[[], T], repeats: int) -> tuple[T, float]:
    """Run ``fn`` ``repeats`` times; return its last result and the fastest wall time.

    The minimum is the least noisy estimate on a shared machine (timeit's advice).
    """
    best = float("inf")
    result: Any = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def best_times(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[Any, float]]:
    """Time several methods round-robin: each round runs every method once.

    Interleaving spreads a shared machine's load bursts over all methods instead of landing on
    whichever ran during the burst, which keeps the ratios steadier than back-to-back runs.
    """
    out: dict[str, tuple[Any, float]] = {}
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
            prev = out.get(name)
            out[name] = (result, min(elapsed, prev[1]) if prev else elapsed)
    return out


def machine_note() -> str:
    cpu = platform.processor() or platform.machine()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp}; {platform.system()} {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """A GitHub-markdown table, so output can be pasted into benchmarks/README.md as is."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    if title:
        print(f"\n{title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def report_worker_estimates(report: dict) -> dict[str, dict[int, float]]:
    """Per-worker estimates from a ``merge_coco`` report, by field name.

    Reads ``report["workers"]`` (a list of dicts, or a dict keyed by worker id) and takes every
    numeric field that is an estimate of quality (weights, precision, recall, mean IoU), plus
    F1 from precision and recall when both are there.
    """
    workers = report.get("workers", report.get("per_worker", []))
    if isinstance(workers, dict):
        workers = [dict(v, annotator_id=k) for k, v in workers.items()]
    out: dict[str, dict[int, float]] = {}
    for entry in workers:
        wid = int(entry.get("annotator_id", entry.get("worker", entry.get("worker_id"))))
        for key, value in entry.items():
            wanted = "weight" in key or key in ("precision", "recall", "mean_iou", "f1")
            if wanted and isinstance(value, int | float) and not isinstance(value, bool):
                out.setdefault(key, {})[wid] = float(value)
        p, r = entry.get("precision"), entry.get("recall")
        if isinstance(p, int | float) and isinstance(r, int | float) and "f1" not in entry:
            out.setdefault("f1 (from precision, recall)", {})[wid] = (
                2 * p * r / (p + r) if p + r else 0.0
            )
    return out
