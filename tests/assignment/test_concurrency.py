"""Many clients claiming from one project at once, on PostgreSQL with real row locks.

32 workers, each in its own thread with its own database connection, claim and submit until
the project is exhausted; four more threads are second tabs of some of those workers. It runs
straight to PostgreSQL and again through PgBouncer in transaction mode. Then the invariants: no
item over its redundancy, no worker twice on an item, every slot claimed, counters equal to the
rows they count, and no error except the documented ones: "nothing for you", and "try again"
(409) for a worker whose two tabs race each other, and only for such a worker.
"""

import threading
from collections import Counter

import pytest
from django.db import connections
from django.db.models import Count

from crowd.assignment.models import Assignment
from crowd.common.exceptions import Conflict, NothingForYou
from tests import factories, pools
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.submit import annotation_submit
from workflows.projects.models import Item

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 32
ITEMS = 60
REDUNDANCY = 3


@pytest.fixture(params=pools.ROUTES)
def routed_pool(request):
    """One connection per client, all at once: straight to PostgreSQL, or through a real
    PgBouncer in transaction mode, where one client's transactions run on different server
    connections (no session state may carry over). Yields the PgBouncer's server connection
    count (None when direct)."""
    with pools.routed(request.param, CLIENTS + 8) as server_connections:
        yield server_connections


def run_clients(targets):
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def body(target):
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # collected, then asserted on in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client hung (deadlock?)"
    return errors


def test_32_clients_exhaust_a_project_without_breaking_an_invariant(routed_pool, alice):
    project = factories.make_project(
        owner=alice, min_redundancy=REDUNDANCY, max_redundancy=REDUNDANCY
    )
    for _ in range(ITEMS):
        factories.make_item(project=project)
    category = project.label_schema.categories.first().pk
    answer = {"regions": [{"category_id": category, "bbox": [1, 1, 10, 10]}]}
    workers = [factories.make_user() for _ in range(CLIENTS)]
    refusals: Counter = Counter()
    raced: set[int] = set()  # workers told their other tab was claiming (409, "try again")
    lock = threading.Lock()

    def work(worker):
        def loop():
            while True:
                try:
                    lease = assignment_claim_next(worker=worker, project_id=project.pk)
                except NothingForYou as exc:
                    with lock:
                        refusals[exc.reason] += 1
                    return
                except Conflict:
                    with lock:
                        raced.add(worker.pk)
                    continue  # what the client is told to do
                annotation_submit(worker=worker, assignment_id=lease.assignment.pk, payload=answer)

        return loop

    # Four workers also run a second tab racing the first.
    targets = [work(w) for w in workers] + [work(w) for w in workers[:4]]
    errors = run_clients(targets)
    assert errors == []
    assert set(refusals) == {"nothing_left"}
    assert raced <= {w.pk for w in workers[:4]}  # only a worker racing itself is told so

    per_item = dict(
        Assignment.objects.values("item").annotate(n=Count("pk")).values_list("item", "n")
    )
    assert len(per_item) == ITEMS and set(per_item.values()) == {REDUNDANCY}
    pairs = Assignment.objects.values("item", "worker").annotate(n=Count("pk"))
    assert max(p["n"] for p in pairs) == 1
    assert set(Assignment.objects.values_list("status", flat=True)) == {"submitted"}
    assert set(Item.objects.values_list("slots_taken", flat=True)) == {REDUNDANCY}
    assert Assignment.objects.count() == ITEMS * REDUNDANCY
    pools.assert_multiplexed(routed_pool)
