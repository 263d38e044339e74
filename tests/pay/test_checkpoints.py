"""Balance checkpoints: a balance is the checkpoint plus the entries after it, and equals the
sum over the account's whole history, also while postings and checkpoints race."""

import threading
from contextlib import contextmanager

import pytest
from django.db import connections, transaction
from django.db.models import Q, Sum

from crowd.pay import ledger
from crowd.pay.ledger import (
    account_checkpoint,
    account_for,
    balance,
    balances_checkpoint,
    books_total,
    ledger_post,
)
from crowd.pay.models import BalanceCheckpoint, LedgerEntry
from tests import factories, pools

pytestmark = pytest.mark.django_db


def history_sum(account) -> int:
    """The balance the slow way: every entry of the account, no checkpoint."""
    debits = LedgerEntry.objects.filter(debit=account).aggregate(s=Sum("amount_minor"))["s"]
    credits = LedgerEntry.objects.filter(credit=account).aggregate(s=Sum("amount_minor"))["s"]
    return (debits or 0) - (credits or 0)


@pytest.fixture
def accounts(alice):
    project = factories.make_project(owner=alice)
    budget = account_for(kind="project_budget", currency="USD", project=project)
    funding = account_for(kind="funding", currency="USD")
    return budget, funding


def post(budget, funding, n: int, *, start: int = 0, amount: int = 3):
    for i in range(start, start + n):
        debit, credit = (budget, funding) if i % 3 else (funding, budget)
        ledger_post(
            key=f"test:{budget.pk}:{i}",
            kind="fund",
            debit=debit,
            credit=credit,
            amount_minor=amount + i % 5,
        )


def checkpoint(account, min_entries: int = 1) -> bool:
    return account_checkpoint(account.pk, min_entries=min_entries)


def test_balance_after_a_checkpoint_counts_only_later_entries_yet_equals_the_history(accounts):
    budget, funding = accounts
    post(budget, funding, 12)
    assert checkpoint(budget)
    stored = BalanceCheckpoint.objects.get(account=budget)
    assert (
        stored.upto_entry_id
        == LedgerEntry.objects.filter(Q(debit=budget) | Q(credit=budget)).latest("pk").pk
    )
    assert stored.balance_minor == history_sum(budget)
    post(budget, funding, 7, start=12)
    assert balance(budget) == history_sum(budget) != stored.balance_minor
    assert checkpoint(budget)
    assert balance(budget) == history_sum(budget)
    assert books_total() == 0


def test_a_checkpoint_waits_for_enough_new_entries(accounts):
    budget, funding = accounts
    post(budget, funding, 4)
    assert not checkpoint(budget, min_entries=5)
    assert not BalanceCheckpoint.objects.exists()
    post(budget, funding, 1, start=4)
    assert checkpoint(budget, min_entries=5)
    assert not checkpoint(budget)  # nothing new since


def test_the_periodic_checkpoint_skips_workers_and_quiet_accounts(accounts, wendy):
    budget, funding = accounts
    payable = account_for(kind="worker_payable", currency="USD", worker=wendy)
    post(budget, funding, 6)
    ledger_post(key="w", kind="reward", debit=payable, credit=budget, amount_minor=2)
    assert balances_checkpoint(min_entries=6) == 2  # the budget and funding accounts
    assert set(BalanceCheckpoint.objects.values_list("account", flat=True)) == {
        budget.pk,
        funding.pk,
    }
    assert balance(payable) == 2 and balance(budget) == history_sum(budget)


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_checkpoints_taken_while_others_post_lose_no_entry(accounts):
    """Four threads post while one checkpoints in a loop: an entry that drew its id before a
    checkpoint but committed after it would be missing from every later balance."""
    budget, funding = accounts
    stop, errors = threading.Event(), []

    def poster(n):
        try:
            post(budget, funding, 60, start=n * 1000)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def checkpointer():
        try:
            while not stop.is_set():
                checkpoint(budget)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with pools.wide_pool(10):
        posters = [threading.Thread(target=poster, args=(n,)) for n in range(4)]
        looper = threading.Thread(target=checkpointer)
        looper.start()
        for t in posters:
            t.start()
        for t in posters:
            t.join(timeout=120)
        stop.set()
        looper.join(timeout=60)
    assert not errors, errors
    assert LedgerEntry.objects.filter(Q(debit=budget) | Q(credit=budget)).count() == 240
    assert BalanceCheckpoint.objects.filter(account=budget).exists()
    assert balance(budget) == history_sum(budget)
    assert books_total() == 0


@contextmanager
def open_in_another_transaction(work):
    """Run ``work`` in a transaction of another thread and keep that transaction open (not
    committed) for the length of the block; it commits after."""
    ready, release, errors = threading.Event(), threading.Event(), []

    def run():
        try:
            with transaction.atomic():
                work()
                ready.set()
                release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    with pools.wide_pool(4):
        thread = threading.Thread(target=run)
        thread.start()
        try:
            assert ready.wait(timeout=30), errors
            yield
        finally:
            release.set()
            thread.join(timeout=30)
    assert not errors, errors


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_waits_for_a_posting_in_flight_and_blocks_nobody(accounts, monkeypatch):
    """An entry drawn before the last committed one, still uncommitted: the checkpoint must not
    pass over it. It waits (and gives up after its bound), while other postings go on."""
    budget, funding = accounts
    monkeypatch.setattr("crowd.pay.ledger.CHECKPOINT_WAIT_SECONDS", 0.3)
    with open_in_another_transaction(lambda: post(budget, funding, 1, start=500)):
        post(budget, funding, 3)  # later ids, committed: they do not wait for the slow one
        assert not checkpoint(budget)  # gave up: the slow posting is still in flight
        assert not BalanceCheckpoint.objects.exists()
    assert checkpoint(budget)
    assert BalanceCheckpoint.objects.get(account=budget).balance_minor == history_sum(budget)
    assert balance(budget) == history_sum(budget)


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_one_checkpointer_at_a_time_the_others_return_at_once(accounts):
    budget, funding = accounts
    post(budget, funding, 3)

    def hold_the_checkpoint_lock():  # as a slow checkpointer does
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [ledger._CHECKPOINT_LOCK_SPACE, budget.pk]
            )

    with open_in_another_transaction(hold_the_checkpoint_lock):
        assert not checkpoint(budget)
    assert checkpoint(budget)


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_waits_for_a_posting_whose_transaction_id_is_the_newest(accounts, monkeypatch):
    """A snapshot lists the transactions in progress below its xmax only. Writer A takes its
    transaction id, B takes a later one and draws entry X, A draws X + 1 and commits: xmax is
    then B's id, so B is not listed, yet its entry X lies below the last committed entry."""
    budget, funding = accounts
    monkeypatch.setattr("crowd.pay.ledger.CHECKPOINT_WAIT_SECONDS", 0.3)
    a_has_id, b_has_entry, a_done, b_release = (threading.Event() for _ in range(4))
    errors = []

    def writer_a():
        try:
            with transaction.atomic():
                ledger.accounts_key_share(budget.pk, funding.pk)  # takes its transaction id
                a_has_id.set()
                assert b_has_entry.wait(timeout=30)
                # Entry X + 1, as ledger_post writes it but without its savepoint, whose own
                # (newer) id would move xmax past B's when A commits.
                LedgerEntry.objects.create(
                    idempotency_key="test:a",
                    kind="fund",
                    debit=budget,
                    credit=funding,
                    amount_minor=4,
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            a_done.set()
            connections.close_all()

    def writer_b():
        try:
            with transaction.atomic():
                post(budget, funding, 1, start=800)  # a later transaction id, entry X
                b_has_entry.set()
                assert b_release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            b_has_entry.set()
            connections.close_all()

    with pools.wide_pool(4):
        a, b = threading.Thread(target=writer_a), threading.Thread(target=writer_b)
        a.start()
        assert a_has_id.wait(timeout=30), errors
        b.start()
        try:
            assert a_done.wait(timeout=30) and not errors, errors
            assert not checkpoint(budget)  # B's entry is below the last one and in flight
            assert not BalanceCheckpoint.objects.exists()
        finally:
            b_release.set()
            a.join(timeout=30)
            b.join(timeout=30)
    assert not errors, errors
    assert checkpoint(budget)
    assert balance(budget) == history_sum(budget)
