"""Handing out work: the claim, the one transition that reads every app below it.

A claim asks the accounts (may this user take work), qualifications (requirements, auto-grants,
test attempts), assignment (blocks, leases, the gold draw), projects (the item's slot) and pay
(funded slots, reservations) at once, so it lives here, above them all.

Concurrency: the claim is one short transaction that locks the chosen item row with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so concurrent claimers never wait on each other and
never pick the same slot; the check constraint ``slots_taken <= slots_funded`` and the unique
constraints (worker, item) and (worker, project) WHERE leased are the last line. On SQLite the
lock clause is ignored and writes are serialised, which is correct for one process. A claim
takes only a slot whose reward the budget already holds (``slots_taken < slots_funded``,
:mod:`crowd.pay.funding`). On PostgreSQL the common claim is one statement
(:mod:`workflows.pipeline.claim_sql`); the tests hold the two roads equal.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from crowd.accounts import access
from crowd.assignment.gold import gold_turn
from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.assignment.selectors import LeaseBrief
from crowd.assignment.services import (
    assignment_new,
    block_active_for,
    blocks_active,
    unseen_by,
)
from crowd.common.exceptions import Conflict, NotFound, NothingForYou
from crowd.pay.budget import budget_can_pay, budget_claim
from crowd.pay.funding import slots_fund, slots_funding_due
from crowd.qualifications.models import (
    QualificationRequirement,
    QualificationTestAttempt,
    QualificationType,
)
from crowd.qualifications.selectors import requirements_check
from crowd.qualifications.services import qualification_auto_grant_for_project
from workflows.projects.models import Item, ItemState, Project, ProjectStatus

from .claim_sql import claim_regular_fast
from .leases import lease_end

CLAIM_ATTEMPTS = 3
FUNDING_ROUNDS = 2


@dataclass(frozen=True)
class ClaimResult:
    assignment: Assignment
    created: bool
    brief: LeaseBrief | None = None  # when the claim read it too (with_brief, PostgreSQL fast path)


def _live_lease(*, worker, project: Project, now: datetime) -> Assignment | None:
    """The worker's live lease on the project, expiring it if its deadline passed (then None).

    Not asked before every claim: the claim's insert meets the unique constraint (worker,
    project) WHERE leased when a lease exists, and only then (or when a claim finds nothing)
    does the caller look here.
    """
    lease = Assignment.objects.filter(
        worker=worker, project=project, status=AssignmentStatus.LEASED
    ).first()
    if lease is None or lease.lease_expires_at > now:
        return lease
    with transaction.atomic():
        lease_end(Assignment.objects.filter(pk=lease.pk), status=AssignmentStatus.EXPIRED)
    return None


def _take_slot(*, worker, project: Project) -> tuple[int, int] | None:
    """Pick the best open item the worker has not seen with a slot funded at the project's
    reward and take that slot, in one statement; returns the item id and the slot's reward, or
    None if there is none. Call inside a transaction.

    ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id`` saves
    the round trip between the pick and the take; the ORM cannot say UPDATE ... RETURNING, so
    the pick is built by the ORM (which adds the lock clause only where the backend has one:
    PostgreSQL; SQLite serialises writers instead) and wrapped here. SQLite >= 3.35 has
    RETURNING. The row stays locked until commit, so the check constraint
    ``slots_taken <= slots_funded`` cannot be crossed by a concurrent claimer.
    """
    pick = (
        Item.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            project=project,
            state=ItemState.OPEN,
            is_gold=False,
            slots_taken__lt=F("slots_funded"),
            slot_reward_minor=project.reward_minor,
        )
        .filter(unseen_by(worker))
        .order_by("-priority", F("labels_wanted") - F("slots_taken"), "id")
        .values("pk")[:1]
    )
    connection = connections[pick.db]
    pick_sql, params = pick.query.get_compiler(connection=connection).as_sql()
    table, column, price = (
        connection.ops.quote_name(n)
        for n in (Item._meta.db_table, "slots_taken", "slot_reward_minor")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column} = {column} + 1 WHERE id = ({pick_sql})"
            f" RETURNING id, {price}",
            params,
        )
        row = cursor.fetchone()
    return tuple(row) if row else None


# _claim_gold and _claim_test_item run inside the claim's one transaction, which budget_claim
# opens (with the reservation of the reward) and which rolls back whole on any error; they
# open no savepoint of their own, two round trips each that would buy nothing.


def _lease_funded_slot(*, worker, project: Project, now: datetime) -> Assignment | None:
    with transaction.atomic():
        taken = _take_slot(worker=worker, project=project)
        if taken is None:
            return None
        item_id, funded_minor = taken
        return assignment_new(
            worker=worker, project=project, item_id=item_id, now=now, funded_minor=funded_minor
        )


def _claim_regular(*, worker, project: Project, now: datetime) -> Assignment | None:
    """Lease a funded slot on the best open item the worker has not seen. Finding none, fund
    what the budget allows and look again. Return None when nothing is left for the worker;
    raise NothingForYou("budget_spent") when only unfunded slots are, and the budget cannot
    pay one, or ("try_again") when it can but other claims took what it funded meanwhile."""
    assignment = _lease_funded_slot(worker=worker, project=project, now=now)
    spent = False
    # A second round when the budget could pay but other claims took what the first funded,
    # or funding skipped a row another transaction held (crowd/pay/funding.py).
    for _ in range(FUNDING_ROUNDS):
        if assignment is not None or spent or not slots_funding_due(project):
            break
        slots_fund(project=project)
        project.refresh_from_db(fields=["reward_minor"])
        assignment = _lease_funded_slot(worker=worker, project=project, now=now)
        spent = assignment is None and not budget_can_pay(project)
    if assignment is not None:
        return assignment
    unfunded = Item.objects.filter(
        project=project, state=ItemState.OPEN, is_gold=False, slots_funded__lt=F("labels_wanted")
    ).filter(unseen_by(worker))
    if not unfunded.exists():
        return None  # nothing left for this worker, funded or not
    if spent or not budget_can_pay(project):
        raise NothingForYou("budget_spent", "the project's budget is spent")
    raise NothingForYou(
        "try_again",
        "other workers took the tasks the budget could pay just now: ask again in a moment",
    )


def _claim_gold(*, worker, project: Project, now: datetime, among=None) -> Assignment | None:
    """Lease a gold item the worker has not seen (from ``among`` ids if given)."""
    items = Item.objects.filter(project=project, is_gold=True).filter(unseen_by(worker))
    if among is not None:
        items = items.filter(pk__in=among)
    item_id = items.order_by("pk").values_list("pk", flat=True).first()
    if item_id is None:
        return None
    return assignment_new(worker=worker, project=project, item_id=item_id, now=now)


def _claim_test_item(*, worker, project: Project, now: datetime) -> Assignment | None:
    """On a qualification-test project, hand out the next item of the worker's open attempt."""
    attempt = QualificationTestAttempt.objects.filter(
        worker=worker, qualification_type__test_project=project, completed_at__isnull=True
    ).first()
    if attempt is None:
        raise NothingForYou(
            "test_not_started",
            "this project is a qualification test: start the test first "
            "(POST /api/v1/qualification-types/{id}/test/)",
        )
    assignment = _claim_gold(worker=worker, project=project, now=now, among=attempt.item_ids)
    if assignment is not None:
        attempt.assignments.add(assignment)
    return assignment


def _claim_one(*, worker, project: Project, now: datetime) -> Assignment | None:
    """Lease one item; gold and test items reserve their reward per lease (budget_claim)."""
    if project.is_test:
        return budget_claim(
            project=project,
            claim=lambda: _claim_test_item(worker=worker, project=project, now=now),
        )
    if project.gold_rate > 0 and gold_turn(
        worker_id=worker.pk,
        project_id=project.pk,
        gold_rate=project.gold_rate,
        handed_out=Assignment.objects.filter(worker=worker, project=project).count(),
    ):
        gold = budget_claim(
            project=project, claim=lambda: _claim_gold(worker=worker, project=project, now=now)
        )
        if gold is not None:
            return gold
    return _claim_regular(worker=worker, project=project, now=now)


def _check_eligible(*, worker, project: Project, now: datetime) -> None:
    """Raise NothingForYou unless the worker may claim now. ``project`` comes from
    :func:`_project_for_claim`: its status and the block flag were read by this very claim (a
    paused project or a new block stops the next claim, nothing is cached), and the
    requirements with the worker's grants take one more query, only if there are any."""
    if project.status != ProjectStatus.ACTIVE:
        raise NothingForYou("project_not_active", f"the project is {project.status}, not active")
    if project.deadline is not None and project.deadline <= now:
        raise NothingForYou("deadline_passed", "the project's deadline has passed")
    if project.blocked:
        block = block_active_for(worker=worker, project=project)  # for its reason; rare
        if block is not None:
            scope = "on this project" if block.project_id else "on all projects"
            raise NothingForYou("blocked", f"you are blocked {scope}: {block.reason}")
    if not project.has_requirements:
        return
    check = requirements_check(worker=worker, project=project, now=now)
    if check.auto_grant_due:
        # The worker's first request here: grant the defaults, then judge with them.
        qualification_auto_grant_for_project(worker=worker, project=project, now=now)
        check = requirements_check(worker=worker, project=project, now=now)
    if check.unmet:
        raise NothingForYou(
            "not_qualified",
            "; ".join(u.message for u in check.unmet),
            details={"unmet": [u.qualification_type_id for u in check.unmet]},
        )


def _project_for_claim(*, worker, project_id: int) -> Project | None:
    """The project with what eligibility asks of it, in one query: whether it is a
    qualification test, whether the worker has an active block on it (or everywhere), and
    whether it has any requirements at all."""
    return (
        Project.objects.annotate(
            is_test=Exists(QualificationType.objects.filter(test_project=OuterRef("pk"))),
            blocked=Exists(blocks_active(worker=worker, project=OuterRef("pk"))),
            has_requirements=Exists(
                QualificationRequirement.objects.filter(project=OuterRef("pk"))
            ),
        )
        .filter(pk=project_id)
        .first()
    )


def assignment_claim_next(
    *, worker, project_id: int, now: datetime | None = None, with_brief: bool = False
) -> ClaimResult:
    """Lease one item of the project to the worker, or raise NothingForYou saying why.

    Idempotent while a lease is live: asking again returns the same lease. ``with_brief``: on
    PostgreSQL's fast path, read the lease's brief in the claim's round trip (``result.brief``;
    None elsewhere, then :func:`~crowd.assignment.selectors.lease_brief` reads it).
    """
    now = now or timezone.now()
    access.check_can_take_tasks(worker)
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        fast = claim_regular_fast(
            worker=worker, project_id=project_id, now=now, with_brief=with_brief
        )
        if fast is not None:
            assignment, brief = fast
            return ClaimResult(assignment, created=True, brief=brief)
    project = _project_for_claim(worker=worker, project_id=project_id)
    if project is None:
        raise NotFound(f"no project {project_id}")
    _check_eligible(worker=worker, project=project, now=now)
    # No look for a live lease first: most claims come from workers without one, so we try
    # the claim straight away. The unique constraint (worker, project) WHERE leased refuses
    # a second lease (an earlier claim's, or a second tab's that won the race; the insert
    # waits for that tab to commit), the claim's transaction rolls back whole (slot and
    # reservation too), and we return the lease found. An overdue lease is expired there and
    # the claim tried again.
    for _ in range(CLAIM_ATTEMPTS):
        try:
            # NothingForYou("budget_spent") when the budget cannot pay one more.
            assignment = _claim_one(worker=worker, project=project, now=now)
        except IntegrityError:
            lease = _live_lease(worker=worker, project=project, now=now)
            if lease is not None:
                return ClaimResult(lease, created=False)
            continue
        except NothingForYou:
            # A worker holding a live lease gets it back even when nothing more is left.
            lease = _live_lease(worker=worker, project=project, now=now)
            if lease is not None:
                return ClaimResult(lease, created=False)
            raise
        if assignment is not None:
            return ClaimResult(assignment, created=True)
        lease = _live_lease(worker=worker, project=project, now=now)
        if lease is not None:
            return ClaimResult(lease, created=False)
        raise NothingForYou("nothing_left", "nothing left for you in this project right now")
    raise Conflict("another request of yours is claiming right now; try again")
