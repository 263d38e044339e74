"""A real PgBouncer in transaction mode in front of the test database.

Started from Debian's ``pgbouncer`` binary (bin/test installs it, as it installs Chromium); the
benchmarks use it too. Transaction mode hands each transaction of a client connection to
whichever server connection is free, which is what breaks code that keeps session state.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.servers import free_port, wait_listening

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def available() -> bool:
    return Path(BINARY).is_file() and os.access(BINARY, os.X_OK)


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@contextmanager
def running(*, host: str, port: int | str, user: str, password: str = "", pool_size: int):
    """Yield the port of a PgBouncer (transaction mode, at most ``pool_size`` server
    connections per database) that forwards every database to ``host:port``."""
    folder = Path(tempfile.mkdtemp(prefix="quorum-pgbouncer-"))
    listen = free_port()
    (folder / "users.txt").write_text(f"{_quoted(user)} {_quoted(password)}\n")
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={host or '127.0.0.1'} port={port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    command = [BINARY, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root; -u drops to another user
        folder.chmod(0o755)
        command[1:1] = ["-u", "nobody"]
    log = open(folder / "pgbouncer.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(
            listen,
            process,
            name="pgbouncer",
            timeout=10,
            log=lambda: (folder / "pgbouncer.log").read_text(),
        )
        yield listen
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
