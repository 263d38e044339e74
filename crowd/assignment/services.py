"""Assignment rows: leases (create, end, extend), the worker's own lease, blocks.

Only the assignment's own rows move here. A lease's end also frees its item's slot and its
reserved reward, and a block ends the worker's leases: those transitions span three apps and
live in :mod:`workflows.pipeline.leases`; the claim lives in :mod:`workflows.pipeline.claims`.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from crowd.accounts import access
from crowd.common.exceptions import Conflict, InvalidInput, NotFound
from workflows.projects.models import Project

from .models import Assignment, AssignmentStatus, Block

logger = logging.getLogger(__name__)


# -- reading state ---------------------------------------------------------------------------


def blocks_active(*, worker, project) -> QuerySet[Block]:
    """The worker's active blocks on ``project`` (a Project or an OuterRef) or everywhere."""
    return Block.objects.filter(worker=worker, lifted_at__isnull=True).filter(
        Q(project=project) | Q(project__isnull=True)
    )


def block_active_for(*, worker, project: Project) -> Block | None:
    return blocks_active(worker=worker, project=project).first()


def unseen_by(worker):
    """Items (an Item queryset's filter) the worker was never handed."""
    return ~Exists(Assignment.objects.filter(item=OuterRef("pk"), worker=worker))


# -- lease rows ------------------------------------------------------------------------------


def assignment_new(
    *, worker, project: Project, item_id: int, now: datetime, funded_minor: int | None = None
) -> Assignment:
    return Assignment.objects.create(
        project=project,
        item_id=item_id,
        worker=worker,
        leased_at=now,
        lease_expires_at=now + timedelta(seconds=project.lease_seconds),
        funded_minor=funded_minor,
    )


def leases_close(assignments, *, status: str) -> list[tuple[int, int]]:
    """Move the given assignments from LEASED to ``status``; the (id, item id) of those moved.

    Conditional on the row still being LEASED, so a lease that was submitted meanwhile is
    left alone and a repeated call changes nothing. Call inside a transaction
    (:func:`workflows.pipeline.leases.lease_end` frees the slots and rewards with it).
    """
    ids = list(assignments.values_list("pk", flat=True))
    if not ids:
        return []
    ended = list(
        Assignment.objects.select_for_update()
        .filter(pk__in=ids, status=AssignmentStatus.LEASED)
        .order_by("pk")
        .values_list("pk", "item_id")
    )
    Assignment.objects.filter(pk__in=[pk for pk, _ in ended]).update(status=status)
    return ended


def leases_expire_overdue(*, now: datetime, batch: int) -> list[tuple[int, int]]:
    """Expire up to ``batch`` leases past their deadline, skipping rows another transaction
    holds (a submit in flight): the (id, item id) of those expired. Call inside a transaction
    (:func:`workflows.pipeline.leases.assignment_expire_overdue` frees their slots with it)."""
    overdue = list(
        Assignment.objects.select_for_update(skip_locked=True)
        .filter(status=AssignmentStatus.LEASED, lease_expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", "item_id")[:batch]
    )
    Assignment.objects.filter(pk__in=[pk for pk, _ in overdue]).update(
        status=AssignmentStatus.EXPIRED
    )
    return overdue


def leases_live(*, worker, project: Project | None = None) -> QuerySet[Assignment]:
    """The worker's live leases on one project, or everywhere."""
    leases = Assignment.objects.filter(worker=worker, status=AssignmentStatus.LEASED)
    return leases if project is None else leases.filter(project=project)


# -- the worker's own lease ------------------------------------------------------------------


def assignment_get_own_locked(*, worker, assignment_id: int) -> Assignment:
    """Call inside a transaction. Lock and return the worker's assignment; someone else's is a 404, never a 403."""
    assignment = (
        # Lock the assignment row only: locking the joined project row too would serialise
        # every submit of a project and deadlock with claims taking its key-share lock.
        Assignment.objects.select_for_update(of=("self",))
        # The label schema rides along for the submit, which validates against it: one
        # round trip fewer there, a few columns more for a return or an extension.
        .select_related("project__label_schema", "item")
        .filter(pk=assignment_id, worker=worker)
        .first()
    )
    if assignment is None:
        raise NotFound(f"you have no assignment {assignment_id}")
    return assignment


def assignment_check_live(assignment: Assignment, *, now: datetime) -> None:
    """Raise a 409 unless the assignment is leased and its deadline has not passed.

    An overdue lease is not expired here (this call may be rolled back with its caller's
    transaction); the reaper or the worker's next claim expires it.
    """
    if assignment.status == AssignmentStatus.LEASED and assignment.lease_expires_at > now:
        return
    if assignment.status in (AssignmentStatus.LEASED, AssignmentStatus.EXPIRED):
        message = f"the lease ended at {assignment.lease_expires_at.isoformat()}"
    else:
        message = f"this assignment is {assignment.status}, no longer leased to you"
    raise Conflict(message, details={"status": assignment.status})


def assignment_extend(*, worker, assignment_id: int, now: datetime | None = None) -> Assignment:
    """Push the deadline to a full lease from now, up to the project's number of extensions."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = assignment_get_own_locked(worker=worker, assignment_id=assignment_id)
        assignment_check_live(assignment, now=now)
        if assignment.extensions >= assignment.project.max_lease_extensions:
            raise Conflict(
                f"this lease was already extended {assignment.extensions} times, the "
                "project's limit"
            )
        Assignment.objects.filter(pk=assignment.pk).update(
            lease_expires_at=now + timedelta(seconds=assignment.project.lease_seconds),
            extensions=F("extensions") + 1,
        )
    assignment.refresh_from_db()
    return assignment


# -- blocks ----------------------------------------------------------------------------------


def block_record(*, worker, reason: str, actor, project: Project | None = None) -> Block:
    """The block row (call inside a transaction); :func:`workflows.pipeline.leases.block_create`
    is the service: it ends the worker's leases with it."""
    if not access.can_take_tasks(worker):
        raise InvalidInput("only workers can be blocked")
    if not reason.strip():
        raise InvalidInput("a block needs a reason")
    try:
        with transaction.atomic():
            return Block.objects.create(
                worker=worker, project=project, reason=reason.strip(), created_by=actor
            )
    except IntegrityError:
        raise Conflict("this worker is already blocked there") from None


def block_lift(*, block: Block, actor) -> Block:
    updated = Block.objects.filter(pk=block.pk, lifted_at__isnull=True).update(
        lifted_at=timezone.now(), lifted_by=actor
    )
    if not updated:
        raise Conflict("this block was already lifted")
    block.refresh_from_db()
    return block
