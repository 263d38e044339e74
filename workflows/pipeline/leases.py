"""A lease's end and a worker's block: the assignment row, its item's slot, its reward.

Ending a lease moves three apps' rows in one transaction: the assignment leaves LEASED
(crowd.assignment), its item's slot is given back (workflows.projects.items), and the reward the
budget held for it is released (crowd.pay.budget). Every function here is that one transaction;
each is conditional on the lease still being LEASED, so a repeat or a race with a submit
changes nothing twice.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crowd.assignment.models import Assignment, AssignmentStatus, Block
from crowd.assignment.services import (
    assignment_check_live,
    assignment_get_own_locked,
    block_record,
    leases_close,
    leases_expire_overdue,
    leases_live,
)
from crowd.pay.budget import budget_release
from workflows.projects.items import item_slots_release
from workflows.projects.models import Project

logger = logging.getLogger(__name__)


def _free(ended: list[tuple[int, int]]) -> None:
    item_slots_release([item_id for _, item_id in ended])
    budget_release(assignment_ids=[pk for pk, _ in ended])


def lease_end(assignments, *, status: str) -> int:
    """End the given leases (now ``status``) with their slots and rewards; how many ended.
    Call inside a transaction."""
    ended = leases_close(assignments, status=status)
    _free(ended)
    return len(ended)


def assignment_expire_overdue(*, now: datetime | None = None, batch: int = 500) -> int:
    """Expire every lease past its deadline, in short transactions of ``batch``; how many.

    Rows another transaction holds (a submit in flight) are skipped and picked up next run.
    """
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            overdue = leases_expire_overdue(now=now, batch=batch)
            if not overdue:
                return total
            _free(overdue)
        total += len(overdue)
        if len(overdue) < batch:
            return total


def assignment_return(*, worker, assignment_id: int, now: datetime | None = None) -> Assignment:
    """Give a lease back unworked; its slot goes back to the pool at once."""
    now = now or timezone.now()
    with transaction.atomic():
        assignment = assignment_get_own_locked(worker=worker, assignment_id=assignment_id)
        assignment_check_live(assignment, now=now)
        lease_end(Assignment.objects.filter(pk=assignment.pk), status=AssignmentStatus.RETURNED)
    assignment.refresh_from_db()
    return assignment


def block_create(*, worker, reason: str, actor, project: Project | None = None) -> Block:
    """Block a worker on one project (or everywhere) and end their live leases there, in one
    transaction."""
    with transaction.atomic():
        block = block_record(worker=worker, reason=reason, actor=actor, project=project)
        lease_end(leases_live(worker=worker, project=project), status=AssignmentStatus.RETURNED)
    logger.info("worker %s blocked on %s by %s", worker.pk, project or "all projects", actor.pk)
    return block
