"""The common claim on PostgreSQL in three round trips: read, claim, commit.

:func:`~crowd.assignment.services.assignment_claim_next` tries this first on PostgreSQL. It
handles the claim almost every request is: an active project, a qualified and unblocked
worker, a regular (not gold) item, a budget far from its end. Anything else (a test project, an
auto-grant to make, a gold turn, a tight budget, a live lease, nothing left) returns None and
the general path, which knows every case and says why, decides instead. So this module never
refuses anybody: it only takes the fast road when the road is clear.

1. One SELECT reads what eligibility needs: the project's settings, whether the worker is
   blocked, every requirement with the worker's grant of its type, the worker's claim count
   for the gold draw, and the project's budget and reserved ledger accounts, taking a
   key-share lock on both account rows (as every ledger writer does, see
   :mod:`crowd.pay.ledger`).
2. One statement picks the best open item the worker has not seen (``FOR UPDATE SKIP
   LOCKED``), takes a slot, inserts the assignment and the RESERVE ledger entry, and reads the
   available budget (its checkpoint plus the entries since), which gates the pick.
3. COMMIT.

Budget (see :mod:`crowd.pay.budget` for the proof of the fast path): the balance is read by
statement 2 before its own reservation, so the pick needs ``available - reward >= (C - 1) *
reward``, the same bound. The key-share lock taken in statement 1 makes a claim on the
locked path wait for this transaction, and makes this one wait for it before statement 2 reads
the balance: so the locked path's read stays exact.

The ORM builds these statements too slowly for the hot path (it was most of a claim's time), so
they are SQL, written once; the tests run the claim suite against them on PostgreSQL and
against the general path on SQLite. The inserted rows take every column from a model instance
(``get_db_prep_save``), so a new field with a default needs no change here.
"""

from datetime import datetime, timedelta
from functools import cache

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction

from crowd.qualifications.models import QualificationGrant
from crowd.qualifications.selectors import comparator_holds, grant_is_held

from .gold import gold_turn
from .models import Assignment

_ELIGIBILITY = """
SELECT p.status, p.deadline, p.gold_rate, p.reward_minor, p.lease_seconds,
  EXISTS (SELECT 1 FROM qualifications_qualificationtype t WHERE t.test_project_id = p.id),
  EXISTS (SELECT 1 FROM assignment_block b
          WHERE b.worker_id = %(worker)s AND b.lifted_at IS NULL
            AND (b.project_id = p.id OR b.project_id IS NULL)),
  (SELECT json_agg(json_build_array(
            r.comparator, r.value, r.values, g.id, g.value, g.revoked_at, g.expires_at,
            t.auto_grant AND t.is_active AND t.system = ''))
     FROM qualifications_qualificationrequirement r
     JOIN qualifications_qualificationtype t ON t.id = r.qualification_type_id
     LEFT JOIN qualifications_qualificationgrant g
       ON g.qualification_type_id = r.qualification_type_id AND g.worker_id = %(worker)s
    WHERE r.project_id = p.id),
  CASE WHEN p.gold_rate > 0 THEN
    (SELECT count(*) FROM assignment_assignment a
      WHERE a.worker_id = %(worker)s AND a.project_id = p.id) END,
  (SELECT a.id FROM pay_ledgeraccount a
    WHERE a.kind = 'project_budget' AND a.project_id = p.id AND a.currency = p.currency
      AND a.worker_id IS NULL FOR KEY SHARE),
  (SELECT a.id FROM pay_ledgeraccount a
    WHERE a.kind = 'project_reserved' AND a.project_id = p.id AND a.currency = p.currency
      AND a.worker_id IS NULL FOR KEY SHARE)
FROM projects_project p WHERE p.id = %(project)s
"""

_CLAIM = """
WITH cp AS (
  SELECT upto_entry_id, balance_minor FROM pay_balancecheckpoint WHERE account_id = %(budget)s
), bal AS (
  SELECT COALESCE((SELECT balance_minor FROM cp), 0)
       + COALESCE(SUM(e.amount_minor) FILTER (WHERE e.debit_id = %(budget)s), 0)
       - COALESCE(SUM(e.amount_minor) FILTER (WHERE e.credit_id = %(budget)s), 0) AS available,
         count(*) AS since
    FROM pay_ledgerentry e
   WHERE (e.debit_id = %(budget)s OR e.credit_id = %(budget)s)
     AND e.id > COALESCE((SELECT upto_entry_id FROM cp), 0)
), picked AS (
  SELECT i.id FROM projects_item i
   WHERE i.project_id = %(project)s AND i.state = 'open' AND NOT i.is_gold
     AND i.slots_taken < i.labels_wanted
     AND NOT EXISTS (SELECT 1 FROM assignment_assignment a
                      WHERE a.item_id = i.id AND a.worker_id = %(worker)s)
     AND (%(reward)s = 0 OR (SELECT available FROM bal) - %(reward)s >= %(margin)s)
   ORDER BY i.priority DESC, i.labels_wanted - i.slots_taken, i.id
   LIMIT 1 FOR UPDATE OF i SKIP LOCKED
), taken AS (
  UPDATE projects_item i SET slots_taken = i.slots_taken + 1
    FROM picked WHERE i.id = picked.id RETURNING i.id
), leased AS (
  INSERT INTO assignment_assignment ({assignment_columns}, item_id)
  SELECT {assignment_values}, taken.id FROM taken RETURNING id, item_id
), reserved AS (
  INSERT INTO pay_ledgerentry ({entry_columns}, idempotency_key, assignment_id)
  SELECT {entry_values}, 'reserve:' || leased.id, leased.id FROM leased WHERE %(reward)s > 0
)
SELECT (SELECT id FROM leased), (SELECT item_id FROM leased), available, since FROM bal
"""


@cache
def _insertable(model, *, without: tuple[str, ...]) -> tuple:
    """The model's columns to insert (not the key, not ``without``)."""
    return tuple(
        f
        for f in model._meta.local_concrete_fields
        if not f.primary_key and f.attname not in without
    )


@cache
def _claim_sql() -> str:
    connection = connections[DEFAULT_DB_ALIAS]
    fields = {
        "assignment": _insertable(Assignment, without=("item_id",)),
        "entry": _insertable(_entry_model(), without=("idempotency_key", "assignment_id")),
    }
    parts = {}
    for name, model_fields in fields.items():
        parts[f"{name}_columns"] = ", ".join(f'"{f.column}"' for f in model_fields)
        # Typed: a bound NULL in a SELECT list would otherwise be text.
        parts[f"{name}_values"] = ", ".join(
            f"CAST(%({name}_{f.attname})s AS {f.db_type(connection)})" for f in model_fields
        )
    return _CLAIM.format(**parts)


def _fetch_one(connection, sql: str, params: dict):
    """Run ``sql`` as a server-side prepared statement of this connection and return its row.

    Planning these statements took longer than running them (~3 ms of a 5 ms claim); Django's
    cursors bind on the client, which cannot prepare. The plans are generic after five runs,
    which suits them: every lookup is by key. (Behind PgBouncer in transaction mode, prepared
    statements need PgBouncer >= 1.21 with ``max_prepared_statements`` set.)
    """
    # Django's error wrapper: callers see django.db errors, as from any other query.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


def _entry_model():
    from crowd.pay.models import LedgerEntry  # pay builds on assignment, not the reverse

    return LedgerEntry


def _values(obj, *, prefix: str, without: tuple[str, ...], connection) -> dict:
    return {
        f"{prefix}_{f.attname}": f.get_db_prep_save(f.pre_save(obj, add=True), connection)
        for f in _insertable(type(obj), without=without)
    }


def _eligible(row, *, worker_id: int, project_id: int, now: datetime) -> bool:
    """Whether the general path would let this worker claim a regular item now."""
    status, deadline, gold_rate, _, _, is_test, blocked, requirements, handed_out = row[:9]
    if status != "active" or (deadline is not None and deadline <= now) or is_test or blocked:
        return False
    for comparator, value, values, grant_id, held_value, revoked, expires, auto in (
        requirements or []
    ):
        if grant_id is None and auto and comparator != "not_exists":
            return False  # an auto-grant to make first: the general path does it
        grant = None
        if grant_id is not None:
            grant = QualificationGrant(
                value=held_value,
                revoked_at=revoked and datetime.fromisoformat(revoked),
                expires_at=expires and datetime.fromisoformat(expires),
            )
        actual = grant.value if grant_is_held(grant, now=now) else None
        if not comparator_holds(comparator, actual, value=value, values=values):
            return False
    return not (
        gold_rate > 0
        and gold_turn(
            worker_id=worker_id, project_id=project_id, gold_rate=gold_rate, handed_out=handed_out
        )
    )


def claim_regular_fast(*, worker, project_id: int, now: datetime) -> Assignment | None:
    """Lease a regular item to an eligible worker in one transaction, or None: the general
    path decides (it may still lease, or say why not)."""
    from crowd.pay import budget, ledger

    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with transaction.atomic():  # opens the connection: _fetch_one uses it raw
            row = _fetch_one(connection, _ELIGIBILITY, {"worker": worker.pk, "project": project_id})
            if row is None or not _eligible(
                row, worker_id=worker.pk, project_id=project_id, now=now
            ):
                return None
            reward, lease_seconds, budget_id, reserved_id = row[3], row[4], row[9], row[10]
            margin = (budget.concurrent_claims() - 1) * reward
            if reward > 0:
                hint = budget.available_hint(budget_id) if budget_id else None
                if hint is None or reserved_id is None or hint < margin + reward:
                    return None  # accounts to create, or near the end: the locked path
            assignment = Assignment(
                project_id=project_id,
                worker=worker,
                leased_at=now,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
            )
            entry = _entry_model()(
                kind="reserve", debit_id=reserved_id, credit_id=budget_id, amount_minor=reward
            )
            params = {
                "worker": worker.pk,
                "project": project_id,
                "budget": budget_id,
                "reward": reward,
                "margin": margin,
                **_values(
                    assignment, prefix="assignment", without=("item_id",), connection=connection
                ),
                **_values(
                    entry,
                    prefix="entry",
                    without=("idempotency_key", "assignment_id"),
                    connection=connection,
                ),
            }
            assignment_id, item_id, available, since = _fetch_one(connection, _claim_sql(), params)
            if budget_id is not None:
                budget.note_available(budget_id, available - (reward if assignment_id else 0))
                if since >= ledger.CHECKPOINT_EVERY:
                    # Keep the read above short between beat's checkpoints on a busy project.
                    transaction.on_commit(lambda: ledger.account_checkpoint(budget_id), robust=True)
            if assignment_id is None:
                return None
    except IntegrityError:
        return None  # a live lease of this worker (or a second tab's): the general path
    assignment.pk, assignment.item_id = assignment_id, item_id
    assignment._state.adding, assignment._state.db = False, DEFAULT_DB_ALIAS
    return assignment
