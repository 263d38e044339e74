"""Review and budgets under real concurrency, on PostgreSQL with real row locks.

Several threads (each with its own connection) approve the same assignments at once while
others replay the auto-approval task; and many workers claim from a project whose budget runs
out. The ledger must hold exactly one reward per approved assignment, the books must sum to
zero, and no budget may go below zero.
"""

import threading
from collections import Counter
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.common.exceptions import NothingForYou
from crowd.pay.auto_review import assignments_auto_approve_due
from crowd.pay.funding import slots_fund
from crowd.pay.ledger import balance, books_total
from crowd.pay.models import AccountKind, EntryKind, LedgerAccount, LedgerEntry
from crowd.pay.review import assignment_approve
from tests import factories, pools
from tests.pay.review_support import (
    answer,
    assert_reserve_matches,
    available,
    claim,
    paid_project,
    reserved,
    submitted,
)
from workflows.pipeline.leases import assignment_return
from workflows.pipeline.submit import annotation_submit
from workflows.projects.models import Item
from workflows.projects.services import project_update

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]

CLIENTS = 24


@pytest.fixture
def wide_pool():
    """One connection per client, all at once."""
    with pools.wide_pool(CLIENTS + 8):
        yield


@pytest.fixture(params=pools.ROUTES)
def routed_pool(request):
    """:func:`wide_pool`, and the same through a real PgBouncer in transaction mode."""
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


def assert_books_balance():
    assert books_total() == 0
    for account in LedgerAccount.objects.exclude(kind=AccountKind.FUNDING):
        assert balance(account) >= 0, account


def test_concurrent_approvals_and_replayed_auto_approval_pay_exactly_once(routed_pool, alice):
    project = paid_project(alice, reward=10, budget=10_000, items=30, auto_approve_seconds=60)
    work = [submitted(factories.make_user(), project) for _ in range(30)]
    ids = [a.pk for a in work]
    later = timezone.now() + timezone.timedelta(hours=1)

    def approve_all(order):
        return lambda: assignment_approve(ids=order, actor=alice)

    def auto_approve():
        for _ in range(3):
            assignments_auto_approve_due(now=later, batch=7)

    targets = [approve_all(ids), approve_all(ids[::-1]), approve_all(ids[5:20])] * 4
    targets += [auto_approve] * 8
    errors = run_clients(targets)
    assert errors == []

    assert set(Assignment.objects.values_list("status", flat=True)) == {AssignmentStatus.APPROVED}
    rewards = Counter(
        LedgerEntry.objects.filter(kind=EntryKind.REWARD).values_list("assignment_id", flat=True)
    )
    assert rewards == Counter(ids)
    assert reserved(project) == 0 and available(project) == 10_000 - 300
    assert_books_balance()
    pools.assert_multiplexed(routed_pool)


def test_concurrent_claimers_never_exceed_the_budget(routed_pool, alice):
    reward, affordable = 10, 45
    project = paid_project(alice, reward=reward, budget=reward * affordable, items=80)
    payload = answer(project)
    refusals: Counter = Counter()
    lock = threading.Lock()

    def work(worker, *, give_back: bool):
        def loop():
            while True:
                try:
                    lease = claim(worker, project)
                except NothingForYou as exc:
                    with lock:
                        refusals[exc.reason] += 1
                    if exc.reason == "try_again":  # what a client is told to do
                        continue
                    return
                if give_back and lease.pk % 5 == 0:
                    assignment_return(worker=worker, assignment_id=lease.pk)
                    continue
                annotation_submit(worker=worker, assignment_id=lease.pk, payload=payload)

        return loop

    workers = [factories.make_user() for _ in range(CLIENTS)]
    errors = run_clients([work(w, give_back=i % 2 == 0) for i, w in enumerate(workers)])
    assert errors == []
    assert set(refusals) - {"try_again"} == {"budget_spent"}

    held = Assignment.objects.filter(
        status__in=[AssignmentStatus.LEASED, AssignmentStatus.SUBMITTED]
    ).count()
    untaken = sum(f - t for f, t in Item.objects.values_list("slots_funded", "slots_taken"))
    assert held + untaken == affordable  # the budget held exactly what it could pay, no more
    assert held >= affordable - CLIENTS  # and handed nearly all of it out before refusing
    assert available(project) == 0 and reserved(project) == reward * affordable
    assert_reserve_matches(project)
    released = LedgerEntry.objects.filter(kind=EntryKind.RELEASE, assignment__isnull=False)
    assert released.count() == Assignment.objects.filter(status=AssignmentStatus.RETURNED).count()
    assert_books_balance()
    pools.assert_multiplexed(routed_pool)


@contextmanager
def item_row_held(item_id: int):
    """Hold an item's row lock in another transaction, as an expiry or a rejection does while
    it waits for the budget."""
    holding, done = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Item.objects.select_for_update().get(pk=item_id)
                holding.set()
                done.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert holding.wait(30)
        yield
    finally:
        done.set()
        holder.join(30)


def test_funding_skips_an_item_row_another_transaction_holds(wide_pool, alice):
    """An expiry or rejection holds its item's row while it waits for the budget; funding,
    which holds the budget, must not wait for that row (a deadlock), only skip it."""
    project = paid_project(alice, reward=10, budget=1000, items=2, redundancy=2)
    held_item = claim(factories.make_user(), project).item_id  # funds both items' slots
    project_update(project=project, reward_minor=20)  # every untaken slot is stale now
    with item_row_held(held_item):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # waiting for the row would raise
        try:
            slots_fund(project=project)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    prices = dict(Item.objects.values_list("pk", "slot_reward_minor"))
    other = next(pk for pk in prices if pk != held_item)
    assert (prices[held_item], prices[other]) == (10, 20)  # skipped, repriced
    slots_fund(project=project)  # the next round takes the row it skipped
    assert set(Item.objects.values_list("slot_reward_minor", flat=True)) == {20}
    assert_reserve_matches(project)
    assert_books_balance()


def test_a_claim_the_budget_could_pay_but_funding_skipped_is_told_to_try_again(wide_pool, alice):
    """Not "nothing left" (there is), nor "budget spent" (it is not): the slot's row is busy."""
    project = paid_project(alice, reward=10, budget=1000, items=1)
    item = Item.objects.get(project=project)
    with item_row_held(item.pk), pytest.raises(NothingForYou) as refused:
        claim(factories.make_user(), project)
    assert refused.value.reason == "try_again"
    assert claim(factories.make_user(), project).item_id == item.pk  # and again it is handed out
    assert_reserve_matches(project)
