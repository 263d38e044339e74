"""The deployed gunicorn config (deploy/gunicorn.conf.py), run for real: preloaded, threaded."""

import http.client
import os
import subprocess
import sys
from pathlib import Path

from tests.servers import free_port, wait_listening

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The no-services path: SQLite in a throwaway data folder, tasks inline."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    return {
        **env,
        "QUORUM_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "crowd.settings",
        **extra,
    }


def test_loading_the_app_opens_no_connection(tmp_path):
    # preload_app loads the app in the master before forking: a connection opened then would
    # be shared by every worker.
    probe = (
        "import crowd.wsgi\n"
        "from django.db import connections\n"
        "print([c.alias for c in connections.all() if c.connection is not None])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_deployed_config_serves_requests_on_one_kept_alive_connection(tmp_path):
    port = free_port()
    env = _env(tmp_path, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2")
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "crowd.wsgi"]
    server = subprocess.Popen(
        gunicorn, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_listening(port, server, name="gunicorn", timeout=60, log=server.stdout.read)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        statuses, sockets = [], []
        for _ in range(3):
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            sockets.append(conn.sock)
        conn.close()
        assert statuses == [200, 200, 200]
        # One TCP connection for all three: the threaded worker kept it alive (the sync worker
        # closes after every response, and http.client would have connected three times).
        assert sockets[0] is not None and all(s is sockets[0] for s in sockets)
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert "Booting worker" in output
