"""The PostgreSQL fast claim: it leases exactly what the general path would, and steps aside
(returns None) in every case it does not handle, leaving the answer to the general path."""

import random

import pytest
from django.db import connection
from django.utils import timezone
from psycopg.pq import TransactionStatus

from crowd.assignment.claim_sql import claim_regular_fast
from crowd.assignment.gold import GOLD_DRAW_SQL, gold_draw, gold_turn
from crowd.assignment.models import Assignment
from crowd.assignment.services import assignment_claim_next, block_create
from crowd.pay.budget import budget_fund, budget_summary, note_available
from crowd.pay.ledger import books_total
from crowd.pay.models import BalanceCheckpoint, EntryKind, LedgerAccount, LedgerEntry
from crowd.qualifications.services import (
    qualification_grant,
    qualification_type_create,
    requirement_create,
)
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.requires_postgres]


def fast(worker, project):
    return claim_regular_fast(worker=worker, project_id=project.pk, now=timezone.now())


@pytest.fixture
def paid(alice):
    """A funded project paying 5 a lease, whose budget this process has read once (the hint)."""
    project = factories.make_project(owner=alice, reward_minor=5, budget_minor=10_000)
    budget_fund(project=project)
    account = LedgerAccount.objects.get(project=project, kind="project_budget")
    note_available(account.pk, budget_summary(project=project).available_minor)
    return project


def test_leases_the_item_the_queue_puts_first_and_reserves_its_reward(paid, wendy):
    low = factories.make_item(project=paid)
    high = factories.make_item(project=paid)
    type(high).objects.filter(pk=high.pk).update(priority=5)
    lease = fast(wendy, paid)
    assert lease is not None and lease.item_id == high.pk and lease.status == "leased"
    stored = Assignment.objects.get(pk=lease.pk)
    assert (stored.worker_id, stored.project_id, stored.item_id) == (wendy.pk, paid.pk, high.pk)
    assert stored.lease_expires_at > timezone.now()
    high.refresh_from_db()
    low.refresh_from_db()
    assert (high.slots_taken, low.slots_taken) == (1, 0)
    reserve = LedgerEntry.objects.get(assignment=stored)
    assert (reserve.kind, reserve.amount_minor, reserve.idempotency_key) == (
        EntryKind.RESERVE,
        5,
        f"reserve:{stored.pk}",
    )
    assert budget_summary(project=paid).reserved_minor == 5
    assert books_total() == 0


def test_a_free_project_leases_without_ledger_entries(alice, wendy):
    project = factories.make_project(owner=alice)
    factories.make_item(project=project)
    assert fast(wendy, project) is not None
    assert not LedgerEntry.objects.exists()


def test_a_second_claim_with_a_live_lease_steps_aside(paid, wendy):
    factories.make_item(project=paid)
    factories.make_item(project=paid)
    first = fast(wendy, paid)
    assert fast(wendy, paid) is None  # the unique live-lease constraint; nothing written
    assert (
        Assignment.objects.count() == 1 and LedgerEntry.objects.filter(kind="reserve").count() == 1
    )
    again = assignment_claim_next(worker=wendy, project_id=paid.pk)
    assert not again.created and again.assignment.pk == first.pk


def test_steps_aside_when_the_worker_is_not_plainly_eligible(alice, bob, wendy):
    project = factories.make_project(owner=alice)
    factories.make_item(project=project)
    qtype = qualification_type_create(owner=alice, name="skilled")
    requirement_create(project=project, qualification_type=qtype, comparator="gte", value=3)
    assert fast(wendy, project) is None  # no grant
    qualification_grant(qualification_type=qtype, worker=wendy, value=2, actor=alice)
    assert fast(wendy, project) is None  # grant too low
    qualification_grant(qualification_type=qtype, worker=wendy, value=3, actor=alice)
    assert fast(wendy, project) is not None
    block_create(worker=wendy, reason="spam", actor=alice, project=project)
    factories.make_item(project=project)
    assert fast(wendy, project) is None
    assert Assignment.objects.filter(status="leased").count() == 0


def test_steps_aside_for_an_auto_grant_and_then_takes_the_fast_road(alice, wendy):
    project = factories.make_project(owner=alice)
    factories.make_item(project=project)
    factories.make_item(project=project)
    qtype = qualification_type_create(
        owner=alice, name="terms", auto_grant=True, auto_grant_value=1
    )
    requirement_create(project=project, qualification_type=qtype, comparator="gte", value=1)
    assert fast(wendy, project) is None
    first = assignment_claim_next(worker=wendy, project_id=project.pk)  # grants, then leases
    Assignment.objects.filter(pk=first.assignment.pk).update(status="returned")
    assert fast(wendy, project) is not None


def test_steps_aside_for_paused_projects_and_passed_deadlines(alice, wendy):
    paused, late = factories.make_project(owner=alice), factories.make_project(owner=alice)
    type(paused).objects.filter(pk=paused.pk).update(status="paused")
    type(late).objects.filter(pk=late.pk).update(deadline=timezone.now())
    for project in (paused, late):
        factories.make_item(project=project)
        assert fast(wendy, project) is None


def test_steps_aside_near_the_end_of_the_budget(alice, wendy):
    project = factories.make_project(owner=alice, reward_minor=5, budget_minor=10)
    budget_fund(project=project)
    factories.make_item(project=project)
    account = LedgerAccount.objects.get(project=project, kind="project_budget")
    note_available(account.pk, 10**9)  # a stale hint: the read in the statement still decides
    assert fast(wendy, project) is None
    assert not LedgerEntry.objects.filter(kind="reserve").exists()
    assert assignment_claim_next(worker=wendy, project_id=project.pk).created  # locked path


def test_nothing_open_steps_aside(paid, wendy):
    assert fast(wendy, paid) is None


def test_a_busy_budget_is_checkpointed_after_the_claim_that_finds_it_due(
    paid, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("crowd.pay.ledger.CHECKPOINT_EVERY", 3)
    budget = LedgerAccount.objects.get(project=paid, kind="project_budget")
    for _ in range(4):
        factories.make_item(project=paid)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            assert fast(factories.make_user(), paid) is not None
    checkpoint = BalanceCheckpoint.objects.get(account=budget)
    last = LedgerEntry.objects.filter(credit=budget).latest("pk")
    assert checkpoint.upto_entry_id == last.pk  # claims 3 and 4 found it due (>= 3 since)
    assert checkpoint.balance_minor == budget_summary(project=paid).available_minor == 10_000 - 20


def test_both_statements_are_prepared_on_the_server(paid, wendy):
    """Planning them cost more than running them: they must really be prepared (Django turns
    psycopg's preparation off unless the settings turn it back on)."""
    factories.make_item(project=paid)
    assert fast(wendy, paid) is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("FOR KEY SHARE OF a" in sql for sql in prepared)
    assert any("FOR UPDATE OF i SKIP LOCKED" in sql for sql in prepared)


def test_the_sql_gold_draw_is_the_python_draw():
    rng = random.Random(4)
    cases = [
        (rng.randrange(1, 10**6), rng.randrange(1, 10**4), rng.randrange(0, 500))
        for _ in range(300)
    ]
    sql = GOLD_DRAW_SQL.format(worker="w", project="p", handed_out="n")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql} FROM unnest(%s::int[], %s::int[], %s::int[]) AS t(w, p, n)",
            [list(c) for c in zip(*cases, strict=True)],
        )
        in_sql = [row[0] for row in cursor.fetchall()]
    assert in_sql == [gold_draw(worker_id=w, project_id=p, handed_out=n) for w, p, n in cases]


def test_a_gold_turn_steps_aside_exactly_when_the_general_path_would_hand_out_gold(alice):
    project = factories.make_project(owner=alice, gold_rate=0.5)
    workers = [factories.make_user() for _ in range(24)]
    for _ in workers:
        factories.make_item(project=project)
    turns = [
        gold_turn(worker_id=w.pk, project_id=project.pk, gold_rate=0.5, handed_out=0)
        for w in workers
    ]
    assert 0 < sum(turns) < len(turns)  # both kinds of claim are tried
    assert [fast(w, project) is None for w in workers] == turns


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_refused_claim_writes_nothing_and_leaves_the_connection_idle(
    alice, wendy
):
    project = factories.make_project(owner=alice, reward_minor=5, budget_minor=10_000)
    budget_fund(project=project)
    budget_summary(project=project)  # creates the reserved account, as the first claim would
    factories.make_item(project=project)
    factories.make_item(project=project)
    assert not connection.in_atomic_block
    first = fast(wendy, project)
    assert first is not None
    assert fast(wendy, project) is None  # the live-lease constraint refuses the second insert
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert list(Assignment.objects.values_list("pk", flat=True)) == [first.pk]
    assert LedgerEntry.objects.filter(kind="reserve").count() == 1
    assert budget_summary(project=project).reserved_minor == 5
