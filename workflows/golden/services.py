"""Consensus jobs, adaptive redundancy, promotion and expert review.

A consensus job reads an item's answers, computes outside any transaction, then writes its
result in one short transaction holding the item's row lock. The result row is keyed by a
digest of its inputs, so a re-run on the same inputs (a redelivered task, a sweeper) finds it
and writes nothing.
"""

import hashlib
import json
import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from crowd.accounts.access import can_review_items
from crowd.assignment.models import SUBMITTED_STATUSES, AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from crowd.labeling.models import Annotation, AnnotationSource
from crowd.labeling.validation import ImageFrame, payload_validate
from crowd.qualifications.models import QualificationGrant, SystemQualification
from workflows.consensus.decision import Decision, redundancy_decision
from workflows.projects.models import Item, ItemState

from .consensus_runs import PACKAGE_VERSION, Answer, ConsensusInput, consensus_compute
from .models import ConsensusDecision, ConsensusResult, GoldenAnnotation

logger = logging.getLogger(__name__)

# A worker with no gold record yet weighs this much; gold accuracy replaces it once known.
DEFAULT_WEIGHT = 1.0
MIN_WEIGHT = 0.05


def _answers(item: Item) -> list[Annotation]:
    """Answers that count: submitted (not rejected) crowd work, plus model pre-labels."""
    live = [s for s in SUBMITTED_STATUSES if s != AssignmentStatus.REJECTED]
    return list(
        Annotation.objects.filter(item=item)
        .filter(~Q(source=AnnotationSource.CROWD) | Q(assignment__status__in=live))
        .order_by("pk")
    )


def _annotator(annotation: Annotation) -> str:
    if annotation.worker_id is not None:
        return f"worker:{annotation.worker_id}"
    return f"model:{annotation.model_name or annotation.source}"


def worker_weights(worker_ids: list[int]) -> dict[str, float]:
    """Current quality weights: each worker's gold accuracy (0-1), floored; unknown = 1."""
    grants = QualificationGrant.objects.filter(
        worker_id__in=worker_ids,
        qualification_type__system=SystemQualification.GOLD_ACCURACY,
        revoked_at__isnull=True,
    ).values_list("worker_id", "value")
    known = {wid: max(MIN_WEIGHT, value / 100) for wid, value in grants}
    return {f"worker:{wid}": known.get(wid, DEFAULT_WEIGHT) for wid in sorted(set(worker_ids))}


def _digest(inp: ConsensusInput) -> str:
    canonical = {
        "answers": [a.annotation_id for a in inp.answers],
        "weights": inp.weights,
        "method": inp.method,
        "parameters": inp.parameters,
        "package_version": PACKAGE_VERSION,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def golden_annotation_promote(
    *, item: Item, payload: dict, consensus_result=None, reviewer=None, now=None
) -> GoldenAnnotation:
    """Make ``payload`` the item's trusted label; the previous one is kept, superseded.

    Call inside a transaction holding the item's row lock.
    """
    from workflows.webhooks.services import webhook_emit, webhook_event_id

    now = now or timezone.now()
    GoldenAnnotation.objects.filter(item=item, superseded_at__isnull=True).update(superseded_at=now)
    golden = GoldenAnnotation.objects.create(
        project_id=item.project_id,
        item=item,
        payload=payload,
        consensus_result=consensus_result,
        reviewed_by=reviewer,
        promoted_at=now,
    )
    Item.objects.filter(pk=item.pk).update(state=ItemState.PROMOTED)
    # Answers can now be judged against the trusted label (when the project asks for that).
    from crowd.pay.tasks import assignments_auto_review_for_item_task

    transaction.on_commit(lambda: assignments_auto_review_for_item_task.delay(item.pk))
    webhook_emit(
        project=item.project,
        event="item.promoted",
        payload={"item": item.pk, "golden_annotation": golden.pk, "regions": payload},
        event_id=webhook_event_id("item.promoted", golden.pk),
    )
    return golden


def _apply(decision: Decision, *, item: Item, result: ConsensusResult, payload: dict) -> None:
    if decision == Decision.PROMOTE:
        golden_annotation_promote(item=item, payload=payload, consensus_result=result)
    elif decision == Decision.MORE_LABELS:
        # The item becomes claimable again for exactly one more label.
        Item.objects.filter(pk=item.pk, labels_wanted__lt=item.project.max_redundancy).update(
            labels_wanted=F("labels_wanted") + 1, state=ItemState.OPEN
        )
    elif decision == Decision.ESCALATE:
        Item.objects.filter(pk=item.pk).update(state=ItemState.ESCALATED)


def consensus_run_for_item(*, item_id: int) -> ConsensusResult | None:
    """Run consensus on the item if all the labels it wants are in; apply the decision.

    Returns the result (new or found by its inputs), or None when the item is gold, not
    ready, or already decided. Safe to call any number of times.
    """
    item = Item.objects.select_related("project__label_schema").filter(pk=item_id).first()
    if item is None or item.is_gold or item.state not in (ItemState.OPEN, ItemState.CONSENSUS):
        return None
    answers = _answers(item)
    crowd = [a for a in answers if a.source == AnnotationSource.CROWD]
    if len(crowd) < item.labels_wanted:
        return None
    project = item.project
    inp = ConsensusInput(
        kind=project.label_schema.kind,
        width=item.width,
        height=item.height,
        answers=tuple(Answer(a.pk, _annotator(a), a.payload) for a in answers),
        weights=worker_weights([a.worker_id for a in crowd]),
        iou_threshold=project.iou_threshold,
        quorum=project.quorum,
    )
    digest = _digest(inp)
    found = ConsensusResult.objects.filter(item=item, inputs_digest=digest).first()
    if found is not None:
        return found
    output = consensus_compute(inp)  # numerical work outside the transaction
    decision = redundancy_decision(
        agreement=output.agreement,
        labels=len(crowd),
        min_labels=project.min_redundancy,
        max_labels=project.max_redundancy,
        accept=project.accept_schedule,
    )
    try:
        with transaction.atomic():
            locked = (
                Item.objects.select_for_update(no_key=True, of=("self",))
                .select_related("project")
                .get(pk=item.pk)
            )
            if locked.state not in (ItemState.OPEN, ItemState.CONSENSUS):
                return None
            last = locked.consensus_results.aggregate(n=Max("round"))["n"] or 0
            result = ConsensusResult.objects.create(
                item=locked,
                round=last + 1,
                worker_weights=inp.weights,
                method=inp.method,
                parameters=inp.parameters,
                package_version=PACKAGE_VERSION,
                inputs_digest=digest,
                result=output.payload,
                agreement=output.agreement,
                decision=ConsensusDecision(decision.value),
            )
            result.annotations.set([a.pk for a in answers])
            _apply(decision, item=locked, result=result, payload=output.payload)
    except IntegrityError:
        # A concurrent run with the same inputs won; its row is the result.
        return ConsensusResult.objects.filter(item=item, inputs_digest=digest).first()
    logger.info("item %s consensus round %s: %s", item.pk, result.round, decision)
    return result


def consensus_items_stale(*, older_than: timedelta = timedelta(minutes=2), now=None) -> list[int]:
    """Items waiting for consensus whose job seems lost (a broker restart, a dropped message).

    The sweeper re-queues them; a job that did run finds its result by digest.
    """
    now = now or timezone.now()
    return list(
        Item.objects.filter(state=ItemState.CONSENSUS, is_gold=False)
        .filter(annotations__created_at__lt=now - older_than)
        .values_list("pk", flat=True)
        .distinct()[:1000]
    )


# -- expert review ---------------------------------------------------------------------------


def _check_reviewer(reviewer, item: Item) -> None:
    if not can_review_items(reviewer, item.project):
        raise Forbidden("only the project's reviewers decide escalated items")


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
    """Resolve an escalated item: ``accept`` a candidate (an annotation id of the item, or
    "consensus" for the last consensus result), ``edit`` (a corrected payload), or ``reject``
    the item with a reason. The decision is promoted with the reviewer as provenance."""
    now = now or timezone.now()
    with transaction.atomic():
        item = (
            Item.objects.select_for_update(no_key=True, of=("self",))
            .select_related("project__label_schema")
            .filter(pk=item_id)
            .first()
        )
        if item is None or item.is_gold:
            raise NotFound(f"no escalated item {item_id}")
        _check_reviewer(reviewer, item)
        if item.state != ItemState.ESCALATED:
            raise Conflict(f"item {item_id} is {item.state}, not waiting for review")
        latest = item.consensus_results.order_by("-round").first()
        if action == "reject":
            if not reason.strip():
                raise InvalidInput("a rejection needs a reason")
            Item.objects.filter(pk=item.pk).update(state=ItemState.REJECTED)
            logger.info("item %s rejected by reviewer %s: %s", item.pk, reviewer.pk, reason)
            return None
        if action == "accept":
            payload = _candidate_payload(item, candidate, latest)
        elif action == "edit":
            if payload is None:
                raise InvalidInput("an edit needs the corrected payload")
        else:
            raise InvalidInput("action must be accept, edit or reject")
        categories = {c.pk: c.keypoint_names for c in item.project.label_schema.categories.all()}
        payload_validate(
            payload,
            kind=item.project.label_schema.kind,
            categories=categories,
            frame=ImageFrame(width=item.width, height=item.height),
        )
        return golden_annotation_promote(
            item=item, payload=payload, consensus_result=latest, reviewer=reviewer, now=now
        )


def _candidate_payload(item: Item, candidate, latest: ConsensusResult | None) -> dict:
    if candidate == "consensus":
        if latest is None:
            raise InvalidInput("this item has no consensus result to accept")
        return latest.result
    annotation = (
        Annotation.objects.filter(item=item, pk=candidate).first()
        if str(candidate).isdigit()
        else None
    )
    if annotation is None:
        raise InvalidInput(f"candidate {candidate!r} is not an answer for this item")
    return annotation.payload
