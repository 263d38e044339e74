"""Starting a real server process on loopback for a test or a benchmark: a free port, and the
wait until it accepts connections."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(
    port: int,
    process: subprocess.Popen,
    *,
    name: str,
    timeout: float,
    log: Callable[[], str] = lambda: "",
) -> None:
    """Return once 127.0.0.1:``port`` accepts a connection; raise if ``process`` exits first
    (with ``log()`` in the message) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not listen on port {port} in {timeout} s") from None
            time.sleep(0.05)
