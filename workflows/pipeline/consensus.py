"""Consensus, promotion and expert review: what a decision does to the item and its answers.

A consensus run merges outside any transaction, then in one short transaction holding the
item's row lock stores the result (golden), moves the item (projects.items: promoted, escalated,
or open for one more label) and, on promotion, records the automatic review of the item's
answers as a follow-up (crowd.common.followups) in that same transaction. An expert's decision
is one transaction too. Every step is safe to repeat: results are keyed by their inputs, and
the item moves only from the states that allow it.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction

from crowd.common.followups import follow_up
from workflows.consensus.decision import Decision
from workflows.golden.models import ConsensusResult, GoldenAnnotation
from workflows.golden.services import (
    ConsensusJob,
    consensus_decide,
    consensus_job_for_item,
    consensus_latest,
    consensus_result_found,
    consensus_result_record,
    golden_annotation_promote,
    review_check,
    review_payload,
)
from workflows.projects.items import AWAITING_CONSENSUS, item_label_add, item_lock, item_move
from workflows.projects.models import Item, ItemState

from .names import AUTO_REVIEW_TASK

logger = logging.getLogger(__name__)


def item_promote(
    *, item: Item, payload: dict, consensus_result=None, reviewer=None, now=None
) -> GoldenAnnotation:
    """Promote ``payload`` into the golden set and queue the review of the item's answers
    against it. Call inside a transaction holding the item's row lock."""
    golden = golden_annotation_promote(
        item=item, payload=payload, consensus_result=consensus_result, reviewer=reviewer, now=now
    )
    item_move(item.pk, to=ItemState.PROMOTED)
    # Answers can now be judged against the trusted label (when the project asks for that).
    follow_up(AUTO_REVIEW_TASK, item.pk)
    return golden


def _apply(decision: Decision, *, item: Item, result: ConsensusResult, payload: dict) -> None:
    if decision == Decision.PROMOTE:
        item_promote(item=item, payload=payload, consensus_result=result)
    elif decision == Decision.MORE_LABELS:
        item_label_add(item, max_labels=item.project.max_redundancy)
    elif decision == Decision.ESCALATE:
        item_move(item.pk, to=ItemState.ESCALATED)


def consensus_run_for_item(*, item_id: int) -> ConsensusResult | None:
    """Run consensus on the item if all the labels it wants are in; apply the decision.

    Returns the result (new or found by its inputs), or None when the item is gold, not
    ready, or already decided. Safe to call any number of times.
    """
    job = consensus_job_for_item(item_id)
    if not isinstance(job, ConsensusJob):
        return job  # the stored result for these inputs, or None
    output, decision = consensus_decide(job)  # numerical work outside the transaction
    try:
        with transaction.atomic():
            item = item_lock(item_id, related=("project",))
            if item is None or item.state not in AWAITING_CONSENSUS:
                return None
            result = consensus_result_record(job, item=item, output=output, decision=decision)
            _apply(decision, item=item, result=result, payload=output.payload)
    except IntegrityError:
        # A concurrent run with the same inputs won; its row is the result.
        return consensus_result_found(item_id=item_id, digest=job.digest)
    logger.info("item %s consensus round %s: %s", item_id, result.round, decision)
    return result


def review_decide(
    *,
    reviewer,
    item_id: int,
    action: str,
    candidate: int | str | None = None,
    payload: dict | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> GoldenAnnotation | None:
    """Resolve an escalated item in one transaction: ``accept`` a candidate (an annotation id
    of the item, or "consensus" for the last consensus result), ``edit`` (a corrected payload),
    or ``reject`` the item with a reason. The decision is promoted with the reviewer as
    provenance."""
    with transaction.atomic():
        item = review_check(
            reviewer, item_lock(item_id, related=("project__label_schema",)), item_id=item_id
        )
        label = review_payload(
            item, action=action, candidate=candidate, payload=payload, reason=reason
        )
        if label is None:
            item_move(item.pk, to=ItemState.REJECTED)
            logger.info("item %s rejected by reviewer %s: %s", item.pk, reviewer.pk, reason)
            return None
        return item_promote(
            item=item,
            payload=label,
            consensus_result=consensus_latest(item),
            reviewer=reviewer,
            now=now,
        )
