"""Submit: the answer is stored, then handed on, in one transaction.

A regular item whose wanted labels are all in moves to ``consensus`` and its consensus job is
recorded as a follow-up; a gold item's score goes into the worker's gold record (which may run
the quality gate) and the automatic review of its answers is recorded as a follow-up. Follow-ups
are outbox rows committed with the answer (crowd.common.followups): a broker outage delays them,
it does not lose them or fail the request.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from crowd.common.followups import follow_up
from crowd.labeling.services import SubmitResult, annotation_store, item_answers_complete
from workflows.projects.items import item_move
from workflows.projects.models import ItemState

from .names import AUTO_REVIEW_TASK, CONSENSUS_TASK
from .quality_gate import gold_result_record


def annotation_submit(
    *, worker, assignment_id: int, payload, now: datetime | None = None
) -> SubmitResult:
    """Store the worker's answer for a live lease and hand its item on; repeats are safe."""
    now = now or timezone.now()
    with transaction.atomic():
        result = annotation_store(
            worker=worker, assignment_id=assignment_id, payload=payload, now=now
        )
        if not result.created:
            return result
        assignment = result.annotation.assignment
        item = assignment.item
        if item.is_gold:
            gold_result_record(assignment=assignment)
            follow_up(AUTO_REVIEW_TASK, item.pk)
        elif item_answers_complete(item):
            item_move(item.pk, to=ItemState.CONSENSUS, from_=(ItemState.OPEN,))
            follow_up(CONSENSUS_TASK, item.pk)
    return result
