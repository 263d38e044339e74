"""Where the machine's CPU went during a timed loop, from /proc: PostgreSQL's processes,
PgBouncer's, and the rest (the client processes, mostly), and how long the cores sat idle."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
_SERVERS = ("postgres", "pgbouncer")


def process_cpu_seconds(pid: int | str) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _process_cpu() -> dict[int, tuple[str, float]]:
    """Every live server process: its name and the CPU seconds it has used so far."""
    out = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
            if comm in _SERVERS:
                out[int(proc.name)] = comm, process_cpu_seconds(proc.name)
        except OSError:  # ended meanwhile
            continue
    return out


def _machine_cpu() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine so far."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK, idle / _TICK


class CpuSplit:
    """``start()`` before the loop, ``stop(events)`` after: milliseconds of CPU per event."""

    def start(self) -> None:
        self._servers, self._machine = _process_cpu(), _machine_cpu()

    def stop(self, events: int) -> dict[str, float]:
        servers, (busy, idle) = _process_cpu(), _machine_cpu()
        n = max(events, 1)
        # Per process: one started meanwhile counts whole; one that ended meanwhile (the
        # previous pgbench's backends, say) is gone from both sides. Ending is rare in a loop
        # over pooled connections, so the CPU it took with it is small.
        used = dict.fromkeys(_SERVERS, 0.0)
        for pid, (name, seconds) in servers.items():
            before = self._servers.get(pid)
            used[name] += seconds - (before[1] if before and before[0] == name else 0.0)
        split = {f"{name}_ms": used[name] * 1000 / n for name in _SERVERS}
        busy -= self._machine[0]
        split["other_ms"] = max(busy - sum(used.values()), 0.0) * 1000 / n
        split["idle_ms"] = (idle - self._machine[1]) * 1000 / n
        return split
