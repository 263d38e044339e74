"""The common claim on PostgreSQL in one round trip.

:func:`~crowd.assignment.services.assignment_claim_next` tries this first on PostgreSQL. It
handles the claim almost every request is: an active project, a qualified and unblocked
worker, a regular (not gold) item, a budget far from its end. Anything else (a test project, an
auto-grant to make, a gold turn, a tight budget, a live lease, nothing left) leases nothing and
returns None, and the general path, which knows every case and says why, decides instead. So
this module never refuses anybody: it only takes the fast road when the road is clear.

Two statements go to the server together in one pipeline and run as one implicit transaction,
committed by the pipeline's Sync (no BEGIN or COMMIT round trip):

1. A key-share lock on the project's budget and reserved ledger accounts, as every ledger
   writer takes (see :mod:`crowd.pay.ledger`).
2. One statement that judges eligibility (the same rules as the general path, in SQL), picks
   the best open item the worker has not seen (``FOR UPDATE SKIP LOCKED``), takes a slot,
   inserts the assignment and the RESERVE ledger entry, and reads the available budget (its
   checkpoint plus the entries since), which gates the pick.

Budget (see :mod:`crowd.pay.budget` for the proof of the fast path): the balance is read by
statement 2 before its own reservation, so the pick needs ``available - reward >= (C - 1) *
reward``, the same bound. Statement 1 comes first so that a claim on the locked path waits for
this transaction, and this one waits for it before statement 2 takes the snapshot its balance
read sees: the locked path's read stays exact.

Both statements are server-side prepared: planning them cost more than running them. The
ORM builds such statements too slowly for the hot path, so they are SQL, written once; the
tests run the whole claim suite against them on PostgreSQL and against the general path on
SQLite. The rules shared with Python come from one place each: the comparators from
:func:`~crowd.qualifications.selectors.comparator_holds_sql`, the gold draw from
:data:`~crowd.assignment.gold.GOLD_DRAW_SQL`. Inserted columns the claim does not set take
their model defaults (``get_db_prep_save``), so a new field with a constant default needs no
change here.
"""

import re
from datetime import datetime
from functools import cache

import psycopg
import psycopg.sql
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction

from crowd.qualifications.selectors import comparator_holds_sql

from .gold import GOLD_DRAW_SQL
from .models import Assignment

_LOCK_ACCOUNTS = """
SELECT a.id FROM pay_ledgeraccount a JOIN projects_project p ON p.id = %(project)s
 WHERE a.project_id = p.id AND a.currency = p.currency AND a.worker_id IS NULL
   AND a.kind IN ('project_budget', 'project_reserved')
 ORDER BY a.id FOR KEY SHARE OF a
"""

_HELD = (
    "(g.id IS NOT NULL AND g.revoked_at IS NULL"
    " AND (g.expires_at IS NULL OR g.expires_at > %(now)s))"
)

_CLAIM = """
WITH p AS (
  SELECT p.id, p.reward_minor, budget.id AS budget, reserved.id AS reserved,
         %(now)s + make_interval(secs => p.lease_seconds) AS expires
    FROM projects_project p
    LEFT JOIN pay_ledgeraccount budget
      ON budget.kind = 'project_budget' AND budget.project_id = p.id
     AND budget.currency = p.currency AND budget.worker_id IS NULL
    LEFT JOIN pay_ledgeraccount reserved
      ON reserved.kind = 'project_reserved' AND reserved.project_id = p.id
     AND reserved.currency = p.currency AND reserved.worker_id IS NULL
   WHERE p.id = %(project)s AND p.status = 'active'
     AND (p.deadline IS NULL OR p.deadline > %(now)s)
     AND NOT EXISTS (SELECT 1 FROM qualifications_qualificationtype t
                      WHERE t.test_project_id = p.id)
     AND NOT EXISTS (SELECT 1 FROM assignment_block b
                      WHERE b.worker_id = %(worker)s AND b.lifted_at IS NULL
                        AND (b.project_id = p.id OR b.project_id IS NULL))
     AND NOT EXISTS (
       SELECT 1 FROM qualifications_qualificationrequirement r
         JOIN qualifications_qualificationtype t ON t.id = r.qualification_type_id
         LEFT JOIN qualifications_qualificationgrant g
           ON g.qualification_type_id = r.qualification_type_id AND g.worker_id = %(worker)s
        WHERE r.project_id = p.id
          AND (NOT {requirement_holds}
               -- an auto-grant to make first: the general path makes it
               OR (g.id IS NULL AND t.auto_grant AND t.is_active AND t.system = ''
                   AND r.comparator <> 'not_exists')))
     AND (p.gold_rate = 0 OR {gold_draw} >= p.gold_rate)
), cp AS (
  SELECT c.upto_entry_id, c.balance_minor FROM pay_balancecheckpoint c
   WHERE c.account_id = (SELECT budget FROM p)
), bal AS (
  SELECT COALESCE((SELECT balance_minor FROM cp), 0)
       + COALESCE(SUM(e.amount_minor) FILTER (WHERE e.debit_id = (SELECT budget FROM p)), 0)
       - COALESCE(SUM(e.amount_minor) FILTER (WHERE e.credit_id = (SELECT budget FROM p)), 0)
         AS available,
         count(*) AS since
    FROM pay_ledgerentry e
   WHERE (e.debit_id = (SELECT budget FROM p) OR e.credit_id = (SELECT budget FROM p))
     AND e.id > COALESCE((SELECT upto_entry_id FROM cp), 0)
), picked AS (
  SELECT i.id FROM projects_item i
   WHERE i.project_id = (SELECT id FROM p) AND i.state = 'open' AND NOT i.is_gold
     AND i.slots_taken < i.labels_wanted
     AND NOT EXISTS (SELECT 1 FROM assignment_assignment a
                      WHERE a.worker_id = %(worker)s AND a.item_id = i.id)
     AND (SELECT p.reward_minor = 0
                 OR (p.budget IS NOT NULL AND p.reserved IS NOT NULL
                     AND (SELECT available FROM bal) - p.reward_minor
                         >= %(others)s * p.reward_minor)
            FROM p)
   ORDER BY i.priority DESC, i.labels_wanted - i.slots_taken, i.id
   LIMIT 1 FOR UPDATE OF i SKIP LOCKED
), taken AS (
  UPDATE projects_item i SET slots_taken = i.slots_taken + 1
    FROM picked WHERE i.id = picked.id RETURNING i.id
), leased AS (
  INSERT INTO assignment_assignment
    ({assignment_columns}, project_id, worker_id, item_id, leased_at, lease_expires_at)
  SELECT {assignment_values}, p.id, %(worker)s, taken.id, %(now)s, p.expires FROM taken, p
  RETURNING id, item_id, lease_expires_at
), reserved AS (
  INSERT INTO pay_ledgerentry
    ({entry_columns}, debit_id, credit_id, amount_minor, created_at, idempotency_key, assignment_id)
  SELECT {entry_values}, p.reserved, p.budget, p.reward_minor, %(now)s,
         'reserve:' || leased.id, leased.id
    FROM leased, p WHERE p.reward_minor > 0
)
SELECT leased.id, leased.item_id, leased.lease_expires_at,
       p.reward_minor, p.budget, bal.available, bal.since
  FROM bal LEFT JOIN p ON true LEFT JOIN leased ON true
"""

# Set by the statement itself, per claim; every other column takes the model's default.
_CLAIM_SETS = {
    "assignment": ("project_id", "worker_id", "item_id", "leased_at", "lease_expires_at"),
    "entry": (
        "debit_id",
        "credit_id",
        "amount_minor",
        "created_at",
        "idempotency_key",
        "assignment_id",
    ),
}


def _entry_model():
    from crowd.pay.models import LedgerEntry  # pay builds on assignment, not the reverse

    return LedgerEntry


@cache
def _statements() -> dict:
    """Both statements, built once per process: the claim's inserts write every column the
    claim does not set with its model default, as a literal (hence only constant defaults,
    which the check below keeps)."""
    connection = connections[DEFAULT_DB_ALIAS]
    templates = {"assignment": Assignment(), "entry": _entry_model()(kind="reserve")}
    parts = {}
    for name, obj in templates.items():
        fields = [
            f
            for f in type(obj)._meta.local_concrete_fields
            if not f.primary_key and f.attname not in _CLAIM_SETS[name]
        ]
        values = []
        for f in fields:
            if (f.has_default() and callable(f.default)) or getattr(f, "auto_now", False):
                raise TypeError(f"{f} has a per-row default: the fast claim must set it")
            value = f.get_db_prep_save(f.pre_save(obj, True), connection)
            values.append(
                f"CAST({psycopg.sql.Literal(value).as_string()} AS {f.db_type(connection)})"
            )
        parts[f"{name}_columns"] = ", ".join(f'"{f.column}"' for f in fields)
        parts[f"{name}_values"] = ", ".join(values)
    requirement_holds = comparator_holds_sql(
        comparator="r.comparator", held=_HELD, actual="g.value", value="r.value", values="r.values"
    )
    gold_draw = GOLD_DRAW_SQL.format(
        worker="%(worker)s",
        project="p.id",
        handed_out="(SELECT count(*) FROM assignment_assignment a"
        " WHERE a.worker_id = %(worker)s AND a.project_id = p.id)",
    )
    sql = _CLAIM.format(requirement_holds=requirement_holds, gold_draw=gold_draw, **parts)
    return {"claim": _numbered(sql), "lock": _numbered(_LOCK_ACCOUNTS)}


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``%(name)s`` placeholders as PostgreSQL's own ``$n``, and the names in ``$n`` order.

    For psycopg's RawCursor, which sends the text as it is: psycopg's default cursors parse a
    query's placeholders on every call once it is longer than their cache takes (4 KB), as the
    claim is (a fifth of the claim's Python time)."""
    names: dict[str, int] = {}

    def number(match: re.Match) -> str:
        return f"${names.setdefault(match[1], len(names) + 1)}"

    return re.sub(r"%\((\w+)\)s", number, sql), tuple(names)


def _execute(cursor, statement: tuple[str, tuple[str, ...]], params: dict) -> None:
    sql, names = statement
    cursor.execute(sql, [params[name] for name in names], prepare=True)


def _claim_round_trip(connection, params: dict) -> tuple:
    """Run both statements in one pipeline and return the claim's row. Outside a transaction
    they are one implicit transaction, committed at the pipeline's Sync; inside the caller's,
    the caller's savepoint holds them."""
    connection.ensure_connection()
    raw = connection.connection
    # Django's error wrapper: callers see django.db errors, as from any other query. Django's
    # cursors bind on the client, which cannot prepare; psycopg's own cursors can.
    statements = _statements()
    with (
        connection.wrap_database_errors,
        psycopg.RawCursor(raw) as lock,
        psycopg.RawCursor(raw) as claim,
    ):
        with raw.pipeline():
            _execute(lock, statements["lock"], params)
            _execute(claim, statements["claim"], params)
        return claim.fetchone()


def claim_regular_fast(*, worker, project_id: int, now: datetime) -> Assignment | None:
    """Lease a regular item to an eligible worker in one round trip, or None: the general
    path decides (it may still lease, or say why not)."""
    from crowd.pay import budget, ledger

    connection = connections[DEFAULT_DB_ALIAS]
    params = {
        "worker": worker.pk,
        "project": project_id,
        "now": now,
        "others": budget.concurrent_claims() - 1,
    }
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a refused insert must not abort the caller
                row = _claim_round_trip(connection, params)
        else:
            row = _claim_round_trip(connection, params)
    except IntegrityError:
        return None  # a live lease of this worker (or a second tab's): the general path
    assignment_id, item_id, expires, reward, budget_id, available, since = row
    if budget_id is not None:
        budget.note_available(budget_id, available - (reward if assignment_id else 0))
        if since >= ledger.CHECKPOINT_EVERY:
            # Keep the read above short between beat's checkpoints on a busy project. Outside
            # a transaction (the claim has committed) this runs at once.
            transaction.on_commit(lambda: ledger.account_checkpoint(budget_id), robust=True)
    if assignment_id is None:
        return None
    assignment = Assignment(
        pk=assignment_id,
        project_id=project_id,
        item_id=item_id,
        worker=worker,
        leased_at=now,
        lease_expires_at=expires,
    )
    assignment._state.adding, assignment._state.db = False, DEFAULT_DB_ALIAS
    return assignment
