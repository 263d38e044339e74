"""Connection pools for tests that run many threads, each with its own connection."""

from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from tests import pgbouncer


@contextmanager
def wide_pool(max_size: int):
    """Reopen the pool with room for ``max_size`` connections at once, and restore it after."""
    options = connection.settings_dict["OPTIONS"]
    saved = dict(options["pool"])
    connection.close_pool()
    options["pool"] = {**saved, "max_size": max_size, "min_size": 1}
    try:
        yield
    finally:
        connection.close_pool()
        options["pool"] = saved


@contextmanager
def through_pgbouncer(max_size: int, *, server_connections: int):
    """Like :func:`wide_pool`, with every connection going through a real PgBouncer in
    transaction mode that holds at most ``server_connections`` to PostgreSQL, and prepared
    statements off (``DATABASE_PREPARE_THRESHOLD=off``, as for PgBouncer before 1.21).
    Yields a function counting the server connections open on the test database now."""
    if not pgbouncer.available():
        pytest.skip("pgbouncer is not installed (bin/test installs it: apt-get install pgbouncer)")
    settings = connection.settings_dict
    direct = {k: settings[k] for k in ("HOST", "PORT", "USER", "PASSWORD", "NAME")}

    def server_connections_now() -> int:
        with psycopg.connect(
            host=direct["HOST"] or "127.0.0.1",
            port=direct["PORT"] or 5432,
            user=direct["USER"],
            password=direct["PASSWORD"],
            dbname=direct["NAME"],
        ) as conn:
            return conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()[0]

    with pgbouncer.running(
        host=direct["HOST"],
        port=direct["PORT"],
        user=direct["USER"],
        password=direct["PASSWORD"],
        pool_size=server_connections,
    ) as port:
        connection.close()
        options = settings["OPTIONS"]
        threshold = options.get("prepare_threshold")
        with wide_pool(max_size):
            settings.update(HOST="127.0.0.1", PORT=str(port))
            options["prepare_threshold"] = None
            try:
                yield server_connections_now
            finally:
                connection.close()
                connection.close_pool()
                settings.update(HOST=direct["HOST"], PORT=direct["PORT"])
                options["prepare_threshold"] = threshold


ROUTES = ("direct", "pgbouncer")
PGBOUNCER_SERVER_CONNECTIONS = 4


@contextmanager
def routed(route: str, max_size: int):
    """:func:`wide_pool` straight to PostgreSQL (yields None) or :func:`through_pgbouncer`
    with a few server connections (yields its counter), by ``route`` (one of ROUTES)."""
    if route == "direct":
        with wide_pool(max_size):
            yield None
    else:
        with through_pgbouncer(
            max_size, server_connections=PGBOUNCER_SERVER_CONNECTIONS
        ) as open_now:
            yield open_now


def assert_multiplexed(server_connections) -> None:
    """On the PgBouncer route (``routed`` yielded a counter), the clients really shared its
    few server connections; on the direct route (None) there is nothing to check."""
    if server_connections is not None:
        assert 1 <= server_connections() <= PGBOUNCER_SERVER_CONNECTIONS
