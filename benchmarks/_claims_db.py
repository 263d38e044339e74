"""Databases for the assignment-claims benchmark: throwaway creation, the seeded project, the
reset between runs, and the pgbench ceiling. Used by ``benchmarks.assignment_claims`` only.

Everything that needs Django imports it inside the function: this module is imported before
``django.setup()`` has run (by the benchmark's main process, and by ``claim_planning``).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# Items start with one submitted label of three, from a crowd that worked before the run: the
# assignment table then holds realistic history when it is analysed (PERF-NOTES trap 2: stats
# taken on an empty table gave a sequential anti-join), and the budget count sees a project in
# progress rather than a fresh one.
LABELS_WANTED, SEEDED_SLOTS, HISTORY_WORKERS = 3, 1, 500


def pg_url(db: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{db}"


def admin_execute(*statements: str) -> None:
    """Run statements on the maintenance database in autocommit (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        for sql in statements:
            conn.execute(sql)


def database_recreate(db: str) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', f'CREATE DATABASE "{db}"')


def database_drop(db: str) -> None:
    admin_execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )


# -- pgbench -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ceiling:
    clients: int
    tps: float
    latency_ms: float


def pgbench_init(db: str, scale: int) -> None:
    database_recreate(db)
    subprocess.run(
        [
            "pgbench",
            "-h",
            PG_HOST,
            "-p",
            str(PG_PORT),
            "-U",
            PG_USER,
            "-i",
            "-q",
            "-s",
            str(scale),
            db,
        ],
        check=True,
        capture_output=True,
    )


def pgbench_ceiling(db: str, *, clients: int, seconds: int) -> Ceiling:
    """``pgbench -N`` (simple update: three single-row writes and an insert, one commit) at the
    given client count; the protocol's ceiling for a short write transaction on this machine."""
    out = subprocess.run(
        [
            "pgbench",
            "-h",
            PG_HOST,
            "-p",
            str(PG_PORT),
            "-U",
            PG_USER,
            "-N",
            "-n",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            db,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tps = re.search(r"^tps = ([\d.]+)", out, re.M)
    latency = re.search(r"^latency average = ([\d.]+) ms", out, re.M)
    if not tps or not latency:
        raise RuntimeError(f"cannot parse pgbench output:\n{out}")
    return Ceiling(clients=clients, tps=float(tps.group(1)), latency_ms=float(latency.group(1)))


def checkpoint() -> None:
    """Start each pair from a fresh checkpoint: a checkpoint landing inside one half of a pair
    swings it by up to 2x (PERF-NOTES), so do not let the previous run's dirty pages decide."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


# -- the seeded project ------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    project_id: int
    worker_ids: list[int]
    tokens: list[str]
    items: int


def _content_hash(n: int) -> str:
    return hashlib.sha256(f"bench-item-{n}".encode()).hexdigest()


def seed(*, items: int, workers: int) -> Seeded:
    """One active, paid project with an auto-granted qualification requirement (the common
    configuration, so every eligibility query of the claim runs), ``items`` regular items with
    one seeded label each, and ``workers`` bench workers with API tokens."""
    from django.db import transaction
    from django.test.utils import override_settings
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from crowd.accounts.services import user_create
    from crowd.assignment.models import Assignment, AssignmentStatus
    from crowd.labeling.models import Annotation
    from crowd.pay.funding import slots_fund
    from crowd.qualifications.models import QualificationGrant
    from crowd.qualifications.services import qualification_type_create, requirement_create
    from workflows.projects.models import Item
    from workflows.projects.services import dataset_create, label_schema_create, project_create

    # PBKDF2 costs ~0.3 s a user; these accounts never log in with a password.
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with fast, transaction.atomic():
        manager = user_create(username="bench-manager", password="bench-pass", role="manager")
        schema = label_schema_create(
            owner=manager, name="bench boxes", kind="bbox", categories=[{"name": "thing"}]
        )
        project = project_create(
            owner=manager,
            label_schema=schema,
            name="claims benchmark",
            status="active",
            min_redundancy=LABELS_WANTED,
            max_redundancy=LABELS_WANTED,
            reward_minor=2,
            budget_minor=10**12,
        )
        qtype = qualification_type_create(
            owner=manager, name="bench terms accepted", auto_grant=True, auto_grant_value=1
        )
        requirement_create(project=project, qualification_type=qtype, comparator="gte", value=1)
        dataset = dataset_create(project=project, name="bench", created_by=manager)
        history = [
            user_create(username=f"bench-history-{i}", password="bench-pass")
            for i in range(HISTORY_WORKERS)
        ]
        now = timezone.now()
        bench = _bench_workers(workers)
        # Bench workers already hold the requirement (granted on an earlier day, as most of a
        # crowd does): every claim of the claim loop is a worker's first of the run, and
        # should measure the steady state, not one auto-grant per claim.
        QualificationGrant.objects.bulk_create(
            [
                QualificationGrant(qualification_type=qtype, worker=w, value=1, granted_at=now)
                for w in bench
            ],
            batch_size=5000,
        )

        rows = Item.objects.bulk_create(
            [
                Item(
                    project=project,
                    dataset=dataset,
                    image="bench/x.png",  # never read: claim and submit use width/height only
                    width=640,
                    height=480,
                    content_hash=_content_hash(n),
                    labels_wanted=LABELS_WANTED,
                    slots_taken=SEEDED_SLOTS,
                    slots_funded=SEEDED_SLOTS,  # the history's slots, taken before budgets
                )
                for n in range(items)
            ],
            batch_size=5000,
        )
        done = Assignment.objects.bulk_create(
            [
                Assignment(
                    project=project,
                    item=item,
                    worker=history[n % HISTORY_WORKERS],
                    status=AssignmentStatus.SUBMITTED,
                    leased_at=now - timedelta(hours=1),
                    lease_expires_at=now,
                    submitted_at=now,
                )
                for n, item in enumerate(rows)
            ],
            batch_size=5000,
        )
        Annotation.objects.bulk_create(
            [
                Annotation(
                    item_id=a.item_id,
                    assignment=a,
                    worker_id=a.worker_id,
                    kind="bbox",
                    payload={"regions": []},
                )
                for a in done
            ],
            batch_size=5000,
        )
    # Fund every open slot before the runs, as beat does within a minute of an import: the
    # claims then take funded slots, as almost every claim of a running project does.
    slots_fund(project=project)
    analyze()
    keys = dict(Token.objects.filter(user__in=bench).values_list("user_id", "key"))
    return Seeded(project.pk, [w.pk for w in bench], [keys[w.pk] for w in bench], items)


def _bench_workers(n: int) -> list:
    """``n`` crowd workers with profiles and API tokens, in bulk: a claim-only run needs a fresh
    worker for every claim (a worker holding a lease gets that lease back), so tens of
    thousands. They never log in with a password."""
    from rest_framework.authtoken.models import Token

    from crowd.accounts.models import User, WorkerProfile

    users = User.objects.bulk_create(
        [User(username=f"bench-worker-{i}", role="worker", password="!") for i in range(n)],
        batch_size=5000,
    )
    WorkerProfile.objects.bulk_create([WorkerProfile(user=u) for u in users], batch_size=5000)
    Token.objects.bulk_create(
        [Token(user=u, key=Token.generate_key()) for u in users], batch_size=5000
    )
    return users


def _bench_tables() -> list[str]:
    from crowd.assignment.models import Assignment
    from crowd.labeling.models import Annotation
    from workflows.projects.models import Item

    return [Item._meta.db_table, Assignment._meta.db_table, Annotation._meta.db_table]


def _ledger_table() -> str:
    from crowd.pay.models import LedgerEntry

    return LedgerEntry._meta.db_table


def analyze() -> None:
    """VACUUM ANALYZE the claim's tables (must run outside a transaction)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in _bench_tables():
            cursor.execute(f'VACUUM ANALYZE "{table}"')


def reset(seeded: Seeded) -> None:
    """Put the project back as seeded, so every run starts from the same queue: drop what the
    bench workers did and give the items back their seeded slot count. Their slots stay
    funded: the claims wrote nothing to the ledger, so the reserve still holds them."""
    from django.db import connection, transaction

    item_t, assignment_t, annotation_t = _bench_tables()
    with transaction.atomic(), connection.cursor() as cursor:
        ids = list(seeded.worker_ids)
        cursor.execute(f'DELETE FROM "{annotation_t}" WHERE worker_id = ANY(%s)', [ids])
        # Entries that reference the bench's assignments (a release, should a run write one).
        cursor.execute(
            f'DELETE FROM "{_ledger_table()}" WHERE assignment_id IN '
            f'(SELECT id FROM "{assignment_t}" WHERE worker_id = ANY(%s))',
            [ids],
        )
        cursor.execute(f'DELETE FROM "{assignment_t}" WHERE worker_id = ANY(%s)', [ids])
        cursor.execute(
            f'UPDATE "{item_t}" SET slots_taken = %s, state = %s '
            "WHERE project_id = %s AND (slots_taken <> %s OR state <> %s)",
            [SEEDED_SLOTS, "open", seeded.project_id, SEEDED_SLOTS, "open"],
        )
    analyze()
