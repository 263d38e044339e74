"""The common claim on PostgreSQL in one statement.

:func:`~workflows.pipeline.claims.assignment_claim_next` tries this first on PostgreSQL. It
handles the claim almost every request is: an active project, a qualified and unblocked
worker, a regular (not gold) item with a funded slot at the project's reward. Anything else (a
test project, an auto-grant to make, a gold turn, slots to fund first, a live lease, nothing
left) leases nothing and returns None, and the general path, which knows every case and says
why, decides instead. So this module never refuses anybody: it only takes the fast road when
the road is clear.

The statement judges eligibility (the same rules as the general path, in SQL), picks the best
open item the worker has not seen with a funded slot free (``FOR UPDATE SKIP LOCKED``), takes
the slot and inserts the assignment with the slot's reward. The budget needs nothing more: the
slot's reward has been held since the slot was funded (:mod:`crowd.pay.funding`), so the claim
reads no balance and writes no ledger entry, and claims meet on no per-project row.

The statement runs inside a PL/pgSQL function (``quorum_claim_<digest of its text>``), whose
plan PostgreSQL caches per server connection: planning it costs three times what running it
does. A psycopg prepared statement would cache it too, but not behind a pooler that hands a
client's transactions to different server connections (PgBouncer in transaction mode before
1.21, ``DATABASE_PREPARE_THRESHOLD=off``); the function's cache works either way. Migrations
write the functions again (``post_migrate``); a process that finds its version missing creates
it. The ORM builds such statements too slowly for the hot path, so it is SQL, written once;
the tests run the whole claim suite against it on PostgreSQL and against the general path on
SQLite. The rules shared with Python come from one place each: the comparators from
:func:`~crowd.qualifications.selectors.comparator_holds_sql`, the gold draw from
:data:`~crowd.assignment.gold.GOLD_DRAW_SQL`; table names come from the models' ``_meta.db_table``
and state values from their choices. Inserted columns the claim does not set take
their model defaults (``get_db_prep_save``), so a new field with a constant default needs no
change here.
"""

import hashlib
import re
from datetime import datetime
from functools import cache
from typing import NamedTuple

import psycopg
import psycopg.errors
import psycopg.sql
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction

from crowd.assignment.gold import GOLD_DRAW_SQL
from crowd.assignment.models import Assignment, Block
from crowd.assignment.selectors import LeaseBrief
from crowd.qualifications.models import (
    Comparator,
    QualificationGrant,
    QualificationRequirement,
    QualificationType,
    SystemQualification,
)
from crowd.qualifications.selectors import comparator_holds_sql
from workflows.projects.models import (
    Category,
    Item,
    ItemState,
    LabelSchema,
    Project,
    ProjectStatus,
)

_HELD = (
    "(g.id IS NOT NULL AND g.revoked_at IS NULL"
    " AND (g.expires_at IS NULL OR g.expires_at > %(now)s))"
)

_CLAIM = """
WITH p AS (
  SELECT p.id, p.reward_minor, %(now)s + make_interval(secs => p.lease_seconds) AS expires
    FROM {project} p
   WHERE p.id = %(project)s AND p.status = {active}
     AND (p.deadline IS NULL OR p.deadline > %(now)s)
     AND NOT EXISTS (SELECT 1 FROM {qualification_type} t
                      WHERE t.test_project_id = p.id)
     AND NOT EXISTS (SELECT 1 FROM {block} b
                      WHERE b.worker_id = %(worker)s AND b.lifted_at IS NULL
                        AND (b.project_id = p.id OR b.project_id IS NULL))
     AND NOT EXISTS (
       SELECT 1 FROM {requirement} r
         JOIN {qualification_type} t ON t.id = r.qualification_type_id
         LEFT JOIN {grant} g
           ON g.qualification_type_id = r.qualification_type_id AND g.worker_id = %(worker)s
        WHERE r.project_id = p.id
          AND (NOT {requirement_holds}
               -- an auto-grant to make first: the general path makes it
               OR (g.id IS NULL AND t.auto_grant AND t.is_active AND t.system = {not_system}
                   AND r.comparator <> {not_exists})))
     AND (p.gold_rate = 0 OR {gold_draw} >= p.gold_rate)
), picked AS (
  SELECT i.id FROM {item} i
   WHERE i.project_id = (SELECT id FROM p) AND i.state = {open} AND NOT i.is_gold
     AND i.slots_taken < i.slots_funded
     AND i.slot_reward_minor = (SELECT reward_minor FROM p)
     AND NOT EXISTS (SELECT 1 FROM {assignment} a
                      WHERE a.worker_id = %(worker)s AND a.item_id = i.id)
   ORDER BY i.priority DESC, i.labels_wanted - i.slots_taken, i.id
   LIMIT 1 FOR UPDATE OF i SKIP LOCKED
), taken AS (
  -- The reward comes from the locked row (FOR UPDATE rechecked the pick on its latest
  -- version), so the lease holds what its slot was funded with.
  UPDATE {item} i SET slots_taken = i.slots_taken + 1
    FROM picked WHERE i.id = picked.id
  RETURNING i.id, i.slot_reward_minor
)
"""

_LEASE = """
INSERT INTO {assignment}
  ({assignment_columns}, project_id, worker_id, item_id, leased_at, lease_expires_at,
   funded_minor)
SELECT {assignment_values}, p.id, %(worker)s, taken.id, %(now)s, p.expires,
       taken.slot_reward_minor
  FROM taken, p
RETURNING id, item_id, lease_expires_at, funded_minor
"""

# What the lease answer needs besides the lease (selectors.LeaseBrief), read in the same round
# trip. The item and project rows are read as the statement found them: width, height and the
# schema do not change under a lease.
_BRIEF = """
SELECT lease.id, lease.item_id, lease.lease_expires_at, lease.funded_minor,
       i.width, i.height, s.kind, j.instructions, j.max_lease_extensions,
       (SELECT json_agg(json_build_object('id', c.id, 'name', c.name, 'color', c.color,
                                          'keypoint_names', c.keypoint_names,
                                          'skeleton', c.skeleton)
                        ORDER BY c.position, c.id)
          FROM {category} c WHERE c.schema_id = s.id) AS categories
  FROM lease
  JOIN {item} i ON i.id = lease.item_id
  JOIN {project} j ON j.id = %(project)s
  JOIN {label_schema} s ON s.id = j.label_schema_id
"""

# Set by the statement itself, per claim; every other column takes the model's default.
_CLAIM_SETS = (
    "project_id",
    "worker_id",
    "item_id",
    "leased_at",
    "lease_expires_at",
    "funded_minor",
)


def _names(connection) -> dict[str, str]:
    """The tables the statement reads, as the models name them, and the state values it
    compares with, as the models' choices spell them (SQL literals)."""
    tables = {
        "project": Project,
        "item": Item,
        "category": Category,
        "label_schema": LabelSchema,
        "assignment": Assignment,
        "block": Block,
        "qualification_type": QualificationType,
        "requirement": QualificationRequirement,
        "grant": QualificationGrant,
    }
    values = {
        "active": ProjectStatus.ACTIVE,
        "open": ItemState.OPEN,
        "not_exists": Comparator.NOT_EXISTS,
        "not_system": SystemQualification.NONE,
    }
    return {
        **{key: connection.ops.quote_name(m._meta.db_table) for key, m in tables.items()},
        **{key: psycopg.sql.Literal(v.value).as_string() for key, v in values.items()},
    }


@cache
def _statement(with_brief: bool) -> tuple[str, tuple[str, ...]]:
    """The statement, built once per process (with or without the lease's brief): its insert
    writes every column the claim does not set with its model default, as a literal (hence
    only constant defaults, which the check below keeps)."""
    connection = connections[DEFAULT_DB_ALIAS]
    template = Assignment()
    fields = [
        f
        for f in Assignment._meta.local_concrete_fields
        if not f.primary_key and f.attname not in _CLAIM_SETS
    ]
    values = []
    for f in fields:
        if (f.has_default() and callable(f.default)) or getattr(f, "auto_now", False):
            raise TypeError(f"{f} has a per-row default: the fast claim must set it")
        value = f.get_db_prep_save(f.pre_save(template, True), connection)
        values.append(f"CAST({psycopg.sql.Literal(value).as_string()} AS {f.db_type(connection)})")
    requirement_holds = comparator_holds_sql(
        comparator="r.comparator", held=_HELD, actual="g.value", value="r.value", values="r.values"
    )
    names = _names(connection)
    gold_draw = GOLD_DRAW_SQL.format(
        worker="%(worker)s",
        project="p.id",
        handed_out=f"(SELECT count(*) FROM {names['assignment']} a"
        " WHERE a.worker_id = %(worker)s AND a.project_id = p.id)",
    )
    lease = _LEASE.format(
        assignment_columns=", ".join(f'"{f.column}"' for f in fields),
        assignment_values=", ".join(values),
        **names,
    )
    claim = _CLAIM.format(requirement_holds=requirement_holds, gold_draw=gold_draw, **names)
    brief = _BRIEF.format(**names)
    sql = f"{claim}, lease AS ({lease}){brief}" if with_brief else claim + lease
    return _numbered(sql)


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``%(name)s`` placeholders as PostgreSQL's own ``$n``, and the names in ``$n`` order.

    For psycopg's RawCursor, which sends the text as it is: psycopg's default cursors parse a
    query's placeholders on every call once it is longer than their cache takes (4 KB), as the
    claim is (a fifth of the claim's Python time)."""
    names: dict[str, int] = {}

    def number(match: re.Match) -> str:
        return f"${names.setdefault(match[1], len(names) + 1)}"

    return re.sub(r"%\((\w+)\)s", number, sql), tuple(names)


# The SQL types of the statement's parameters, by name.
_PARAM_TYPES = {"now": "timestamptz", "project": "bigint", "worker": "bigint"}


class ClaimFunction(NamedTuple):
    name: str  # versioned by the statement's text: an older release keeps calling its own
    signature: str
    call: str
    params: tuple[str, ...]  # parameter names, in the order of the call's $n


@cache
def _function(with_brief: bool) -> ClaimFunction:
    """The function running the statement (with or without the lease's brief)."""
    sql, names = _statement(with_brief)
    digest = hashlib.sha256(sql.encode()).hexdigest()[:16]
    name = f"quorum_claim_{'brief_' if with_brief else ''}{digest}"
    return ClaimFunction(
        name=name,
        signature=f"{name}({', '.join(_PARAM_TYPES[n] for n in names)})",
        call=f"SELECT * FROM {name}({', '.join(f'${i}' for i in range(1, len(names) + 1))})",
        params=names,
    )


def _result_columns(cursor, with_brief: bool) -> str:
    """``RETURNS TABLE``'s column list, as the statement describes its row: run on a project
    that cannot exist, it matches nothing and changes nothing."""
    sql, names = _statement(with_brief)
    probe = {"now": datetime.now().astimezone(), "project": 0, "worker": 0}
    cursor.execute(sql, [probe[n] for n in names])
    described = [(column.name, column.type_code) for column in cursor.description]
    cursor.execute(
        "SELECT format_type(oid, NULL) FROM unnest($1::oid[]) WITH ORDINALITY AS t(oid, n)"
        " ORDER BY n",
        [[oid for _, oid in described]],
    )
    types = [row[0] for row in cursor.fetchall()]
    return ", ".join(
        f"{psycopg.sql.Identifier(n).as_string()} {t}"
        for (n, _), t in zip(described, types, strict=True)
    )


def claim_functions_install(connection, *, replace: bool = False) -> None:
    """Create this release's claim functions where missing; ``replace`` writes them again
    (after a migration, which may change a column's type and so the row they return).

    Replacing keeps the function (``CREATE OR REPLACE``): a claim running meanwhile sees the
    old definition or the new one. Only a changed row needs a drop first, which a claim that
    looked the function up just before may meet as an error, once."""
    connection.ensure_connection()
    with (
        transaction.atomic(using=connection.alias),
        connection.wrap_database_errors,
        psycopg.RawCursor(connection.connection) as cursor,  # $n placeholders, as the statement
    ):
        for with_brief in (False, True):
            function = _function(with_brief)
            # One installer at a time (a bigint key: apart from the ledger's two-int locks).
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [function.name])
            cursor.execute("SELECT to_regprocedure($1) IS NOT NULL", [function.signature])
            exists = cursor.fetchone()[0]
            if exists and not replace:
                continue
            create = (
                f"CREATE OR REPLACE FUNCTION {function.signature}"
                f" RETURNS TABLE ({_result_columns(cursor, with_brief)})"
                " LANGUAGE plpgsql VOLATILE AS $claim$\n"
                "#variable_conflict use_column\n"  # its columns share names with the tables'
                f"BEGIN RETURN QUERY {_statement(with_brief)[0]}; END\n$claim$"
            )
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute(create)
            except psycopg.errors.InvalidFunctionDefinition:  # its row changed
                cursor.execute(f"DROP FUNCTION {function.signature}")
                cursor.execute(create)


_installed: set[tuple[str, str]] = set()  # (database, function) this process found or made


def _claim_round_trip(connection, params: dict, *, with_brief: bool) -> tuple | None:
    """Run the statement (through its function) and return its row. Outside a transaction
    it commits on its own; inside the caller's, the caller's savepoint holds it."""
    connection.ensure_connection()
    function = _function(with_brief)
    if (connection.settings_dict["NAME"], function.name) not in _installed:
        claim_functions_install(connection)
        _installed.add((connection.settings_dict["NAME"], function.name))
    # Django's error wrapper: callers see django.db errors, as from any other query. Django's
    # cursors bind on the client, which cannot prepare; psycopg's own cursors can (the call
    # is cheap to plan either way; the function's plan is cached in the server).
    with connection.wrap_database_errors, psycopg.RawCursor(connection.connection) as cursor:
        cursor.execute(function.call, [params[name] for name in function.params], prepare=True)
        return cursor.fetchone()


class _LeaseRow(NamedTuple):
    """A new lease's row in the model's field order: the model defaults the statement inserts
    for every column it does not set, and where the id and the columns it sets go."""

    attnames: tuple[str, ...]
    defaults: tuple
    positions: tuple[int, ...]  # of "id" and _CLAIM_SETS, in that order


@cache
def _lease_row() -> _LeaseRow:
    attnames = tuple(f.attname for f in Assignment._meta.concrete_fields)
    template = Assignment()
    return _LeaseRow(
        attnames,
        tuple(getattr(template, name) for name in attnames),
        tuple(attnames.index(name) for name in ("id", *_CLAIM_SETS)),
    )


def claim_regular_fast(
    *, worker, project_id: int, now: datetime, with_brief: bool = False
) -> tuple[Assignment, LeaseBrief | None] | None:
    """Lease a regular item to an eligible worker in one round trip, or None: the general
    path decides (it may still lease, or say why not). ``with_brief``: the same round trip
    reads the lease's brief (:func:`~crowd.assignment.selectors.lease_brief`), for the claim
    endpoint's answer."""
    connection = connections[DEFAULT_DB_ALIAS]
    params = {"worker": worker.pk, "project": project_id, "now": now}
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a refused insert must not abort the caller
                row = _claim_round_trip(connection, params, with_brief=with_brief)
        else:
            row = _claim_round_trip(connection, params, with_brief=with_brief)
    except IntegrityError:
        return None  # a live lease of this worker (or a second tab's): the general path
    if row is None:
        return None
    assignment_id, item_id, expires, funded_minor, *brief = row
    lease_row = _lease_row()
    values = list(lease_row.defaults)
    leased = (assignment_id, project_id, worker.pk, item_id, now, expires, funded_minor)
    for position, value in zip(lease_row.positions, leased, strict=True):
        values[position] = value
    # The row as the statement wrote it: built as loaded (positional, the model's fast path;
    # less than half the keyword constructor's time).
    assignment = Assignment.from_db(DEFAULT_DB_ALIAS, lease_row.attnames, values)
    assignment.worker = worker
    if not with_brief:
        return assignment, None
    width, height, kind, instructions, extensions, categories = brief
    return assignment, LeaseBrief(width, height, kind, instructions, extensions, categories or [])
