"""The PostgreSQL fast claim: it leases exactly what the general path would, and steps aside
(returns None) in every case it does not handle, leaving the answer to the general path."""

import random

import pytest
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.utils import timezone
from psycopg.pq import TransactionStatus

from crowd.assignment.gold import GOLD_DRAW_SQL, gold_draw, gold_turn
from crowd.assignment.models import Assignment
from crowd.assignment.selectors import lease_brief
from crowd.pay.budget import budget_summary
from crowd.pay.funding import slots_fund
from crowd.pay.ledger import books_total
from crowd.pay.models import LedgerEntry
from crowd.qualifications.services import (
    qualification_grant,
    qualification_type_create,
    requirement_create,
)
from tests import factories
from tests.pay.review_support import assert_reserve_matches
from workflows.pipeline import claim_sql
from workflows.pipeline.claim_sql import claim_regular_fast
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.leases import block_create
from workflows.projects.services import project_update

pytestmark = [pytest.mark.django_db, pytest.mark.requires_postgres]


def fast(worker, project):
    found = claim_regular_fast(worker=worker, project_id=project.pk, now=timezone.now())
    return None if found is None else found[0]


def funded_items(project, n: int = 1) -> list:
    """``n`` new items, their slots funded as the general path or beat would."""
    items = [factories.make_item(project=project) for _ in range(n)]
    slots_fund(project=project)
    return items


@pytest.fixture
def paid(alice):
    return factories.make_project(owner=alice, reward_minor=5, budget_minor=10_000)


def test_the_lease_task_read_with_the_claim_is_the_one_the_selector_reads(alice, wendy):
    schema = factories.make_schema(owner=alice, kind="keypoints", names=("cat", "dog", "emu"))
    schema.categories.filter(name="cat").update(position=5)
    schema.categories.filter(name="dog").update(skeleton=[[0, 1]], color="#00ff00")
    project = factories.make_project(
        owner=alice, schema=schema, instructions="Mark head, then tail.", max_lease_extensions=3
    )
    factories.make_item(project=project, width=640, height=480)
    slots_fund(project=project)
    result = assignment_claim_next(worker=wendy, project_id=project.pk, with_brief=True)
    assert result.brief is not None  # read by the fast claim's one round trip
    assert result.brief == lease_brief(result.assignment)
    assert [c["name"] for c in result.brief.categories][0] == "dog"  # the schema's order


def test_without_the_task_the_claim_reads_none(paid, wendy):
    funded_items(paid)
    found = claim_regular_fast(worker=wendy, project_id=paid.pk, now=timezone.now())
    assert found is not None and found[1] is None


def test_leases_the_item_the_queue_puts_first_and_writes_no_ledger_entry(paid, wendy):
    low, high = funded_items(paid, 2)
    type(high).objects.filter(pk=high.pk).update(priority=5)
    written = LedgerEntry.objects.count()
    lease = fast(wendy, paid)
    assert lease is not None and lease.item_id == high.pk and lease.status == "leased"
    stored = Assignment.objects.get(pk=lease.pk)
    assert (stored.worker_id, stored.project_id, stored.item_id) == (wendy.pk, paid.pk, high.pk)
    assert stored.lease_expires_at > timezone.now() and stored.funded_minor == 5
    high.refresh_from_db()
    low.refresh_from_db()
    assert (high.slots_taken, low.slots_taken) == (1, 0)
    assert LedgerEntry.objects.count() == written  # the slot's reward was held at funding
    wanted = high.labels_wanted + low.labels_wanted
    assert budget_summary(project=paid).reserved_minor == 5 * wanted  # every slot funded
    assert_reserve_matches(paid)
    assert books_total() == 0


def test_the_lease_returned_is_the_row_stored_field_by_field(paid, wendy):
    funded_items(paid)
    lease = fast(wendy, paid)
    stored = Assignment.objects.get(pk=lease.pk)
    for field in Assignment._meta.concrete_fields:
        assert getattr(lease, field.attname) == getattr(stored, field.attname), field.name
    assert lease.worker is wendy  # no query to read it back
    assert (lease._state.adding, lease._state.db) == (False, "default")


def test_a_free_project_leases_without_ledger_entries(alice, wendy):
    project = factories.make_project(owner=alice)
    funded_items(project)
    assert fast(wendy, project) is not None
    assert not LedgerEntry.objects.exists()


def test_a_second_claim_with_a_live_lease_steps_aside(paid, wendy):
    funded_items(paid, 2)
    first = fast(wendy, paid)
    written = LedgerEntry.objects.count()
    assert fast(wendy, paid) is None  # the unique live-lease constraint; nothing written
    assert Assignment.objects.count() == 1 and LedgerEntry.objects.count() == written
    again = assignment_claim_next(worker=wendy, project_id=paid.pk)
    assert not again.created and again.assignment.pk == first.pk


def test_steps_aside_when_the_worker_is_not_plainly_eligible(alice, bob, wendy):
    project = factories.make_project(owner=alice)
    funded_items(project)
    qtype = qualification_type_create(owner=alice, name="skilled")
    requirement_create(project=project, qualification_type=qtype, comparator="gte", value=3)
    assert fast(wendy, project) is None  # no grant
    qualification_grant(qualification_type=qtype, worker=wendy, value=2, actor=alice)
    assert fast(wendy, project) is None  # grant too low
    qualification_grant(qualification_type=qtype, worker=wendy, value=3, actor=alice)
    assert fast(wendy, project) is not None
    block_create(worker=wendy, reason="spam", actor=alice, project=project)
    funded_items(project)
    assert fast(wendy, project) is None
    assert Assignment.objects.filter(status="leased").count() == 0


def test_steps_aside_for_an_auto_grant_and_then_takes_the_fast_road(alice, wendy):
    project = factories.make_project(owner=alice)
    funded_items(project, 2)
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
        funded_items(project)
        assert fast(wendy, project) is None


def test_steps_aside_until_slots_are_funded_and_the_general_path_funds_them(paid, wendy):
    factories.make_item(project=paid)
    factories.make_item(project=paid)
    assert fast(wendy, paid) is None and not LedgerEntry.objects.exists()
    first = assignment_claim_next(worker=wendy, project_id=paid.pk)
    assert first.created and first.assignment.funded_minor == 5
    Assignment.objects.filter(pk=first.assignment.pk).update(
        status="submitted", submitted_at=timezone.now()
    )
    assert fast(wendy, paid) is not None  # the other item's slot was funded with the first
    assert_reserve_matches(paid)


def test_steps_aside_for_slots_funded_at_an_old_reward(paid, wendy, bob):
    funded_items(paid, 2)
    project_update(project=paid, reward_minor=7)
    assert fast(wendy, paid) is None
    lease = assignment_claim_next(worker=wendy, project_id=paid.pk).assignment
    assert lease.funded_minor == 7  # repriced under the budget lock, then leased
    assert_reserve_matches(paid)


def test_nothing_open_steps_aside(paid, wendy):
    assert fast(wendy, paid) is None


def calls_of(function_name: str) -> int:
    """Calls of a function in this transaction (function statistics on for this session)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE funcname = %s",
            [function_name],
        )
        return cursor.fetchone()[0]


def test_the_statement_runs_in_its_function_whose_plan_the_server_caches(paid, wendy):
    """Planning the statement costs three times running it: it must run inside its PL/pgSQL
    function (the server caches the plan per connection, prepared statements or not)."""
    funded_items(paid, 2)
    name = claim_sql._function(False).name
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL track_functions = 'pl'")
    assert fast(wendy, paid) is not None
    assert calls_of(name) == 1


def test_a_missing_claim_function_is_created_by_the_first_claim(paid, wendy):
    funded_items(paid)
    signature = claim_sql._function(False).signature
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION IF EXISTS {signature}")
    claim_sql._installed.clear()  # a process starting on a database without it
    assert fast(wendy, paid) is not None
    assert Assignment.objects.filter(worker=wendy, project=paid).count() == 1


def function_oids() -> set[int]:
    names = [claim_sql._function(with_brief).name for with_brief in (False, True)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_proc WHERE proname = ANY(%s)", [names])
        return {row[0] for row in cursor.fetchall()}


def test_a_migration_writes_the_claim_functions_again_in_place(paid, wendy):
    """A migrate writes each function again from the current statement, keeping it (same
    oid): a claim running meanwhile finds one definition or the other, never none."""
    funded_items(paid, 2)
    signature = claim_sql._function(False).signature
    with connection.cursor() as cursor:  # a definition that leases nothing
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {signature} RETURNS TABLE"
            " (id bigint, item_id bigint, lease_expires_at timestamptz, funded_minor integer)"
            " LANGUAGE sql AS 'SELECT NULL::bigint, NULL::bigint, NULL::timestamptz, 0 WHERE false'"
        )
    assert fast(wendy, paid) is None
    before = function_oids()
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    assert function_oids() == before and len(before) == 2
    assert fast(wendy, paid) is not None


def test_a_migration_that_changed_the_functions_row_makes_them_again(paid, wendy):
    signature = claim_sql._function(False).signature
    with connection.cursor() as cursor:  # as if a column it returns had another type
        cursor.execute(f"DROP FUNCTION {signature}")
        cursor.execute(
            f"CREATE FUNCTION {signature} RETURNS TABLE (id text)"
            " LANGUAGE sql AS 'SELECT NULL::text WHERE false'"
        )
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    funded_items(paid)
    assert fast(wendy, paid) is not None


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
    funded_items(project, len(workers))
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
    funded_items(project, 2)
    written = LedgerEntry.objects.count()
    assert not connection.in_atomic_block
    first = fast(wendy, project)
    assert first is not None
    assert fast(wendy, project) is None  # the live-lease constraint refuses the second insert
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert list(Assignment.objects.values_list("pk", flat=True)) == [first.pk]
    assert LedgerEntry.objects.count() == written
    assert_reserve_matches(project)


@pytest.mark.django_db(transaction=True)
def test_migrating_the_assignments_away_and_back_leaves_claims_working(alice, wendy):
    """Migrating back past the assignment table cannot build the functions (the statement needs
    it): the command still succeeds, and once migrated forward the claim works again."""
    call_command("migrate", "assignment", "zero", verbosity=0)
    call_command("migrate", verbosity=0)
    project = factories.make_project(owner=alice, reward_minor=5, budget_minor=10_000)
    funded_items(project)
    assert fast(wendy, project) is not None
