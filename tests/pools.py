"""Connection pools for tests that run many threads, each with its own connection."""

from contextlib import contextmanager

from django.db import connection


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
