"""The golden app's part of consensus, promotion and expert review.

A consensus job (:func:`consensus_job_for_item`) reads an item's answers; its merge
(:func:`consensus_decide`) runs outside any transaction; its result
(:func:`consensus_result_record`) is written in the short transaction that holds the item's row
lock. The result row is keyed by a digest of its inputs, so a re-run on the same inputs (a
redelivered task, a sweeper) finds it and writes nothing. What the decision then does to the
item, its answers and its pay is the pipeline's (workflows/pipeline/consensus.py).
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Max, Q
from django.utils import timezone

from crowd.accounts.access import can_review_items
from crowd.assignment.models import SUBMITTED_STATUSES, AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from crowd.labeling.models import Annotation, AnnotationSource
from crowd.qualifications.models import QualificationGrant, SystemQualification
from workflows.consensus.decision import Decision, redundancy_decision
from workflows.projects.items import AWAITING_CONSENSUS
from workflows.projects.models import Item, ItemState
from workflows.projects.validation import ImageFrame, payload_validate
from workflows.webhooks.services import webhook_emit, webhook_event_id

from .consensus_runs import (
    PACKAGE_VERSION,
    Answer,
    ConsensusInput,
    ConsensusOutput,
    consensus_compute,
)
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

    Call inside a transaction holding the item's row lock; the item's state is the caller's
    (:func:`workflows.pipeline.consensus.item_promote`).
    """
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
    webhook_emit(
        project=item.project,
        event="item.promoted",
        payload={"item": item.pk, "golden_annotation": golden.pk, "regions": payload},
        event_id=webhook_event_id("item.promoted", golden.pk),
    )
    return golden


@dataclass(frozen=True)
class ConsensusJob:
    """What one consensus run reads: the item, its answers, the merge input and its digest."""

    item: Item
    answers: list[Annotation]
    crowd_labels: int
    input: ConsensusInput
    digest: str


def consensus_job_for_item(item_id: int) -> ConsensusJob | ConsensusResult | None:
    """The job to run on the item; the stored result when its inputs were merged already; None
    when the item is gold, not ready, or already decided."""
    item = Item.objects.select_related("project__label_schema").filter(pk=item_id).first()
    if item is None or item.is_gold or item.state not in AWAITING_CONSENSUS:
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
    found = consensus_result_found(item_id=item.pk, digest=digest)
    if found is not None:
        return found
    return ConsensusJob(item, answers, len(crowd), inp, digest)


def consensus_result_found(*, item_id: int, digest: str) -> ConsensusResult | None:
    return ConsensusResult.objects.filter(item_id=item_id, inputs_digest=digest).first()


def consensus_decide(job: ConsensusJob) -> tuple[ConsensusOutput, Decision]:
    """Merge the answers and decide (numerical work: call outside any transaction)."""
    project = job.item.project
    output = consensus_compute(job.input)
    decision = redundancy_decision(
        agreement=output.agreement,
        labels=job.crowd_labels,
        min_labels=project.min_redundancy,
        max_labels=project.max_redundancy,
        accept=project.accept_schedule,
    )
    return output, decision


def consensus_result_record(
    job: ConsensusJob, *, item: Item, output: ConsensusOutput, decision: Decision
) -> ConsensusResult:
    """Store the next round's result. Call inside a transaction holding the item's row lock;
    a concurrent run with the same inputs makes this raise IntegrityError (its row wins)."""
    last = item.consensus_results.aggregate(n=Max("round"))["n"] or 0
    result = ConsensusResult.objects.create(
        item=item,
        round=last + 1,
        worker_weights=job.input.weights,
        method=job.input.method,
        parameters=job.input.parameters,
        package_version=PACKAGE_VERSION,
        inputs_digest=job.digest,
        result=output.payload,
        agreement=output.agreement,
        decision=ConsensusDecision(decision.value),
    )
    result.annotations.set([a.pk for a in job.answers])
    return result


def consensus_items_stale(*, older_than: timedelta = timedelta(minutes=2), now=None) -> list[int]:
    """Items waiting for consensus whose job seems lost (a process killed before its follow-up
    was recorded as sent, a message lost after the broker took it).

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


def review_check(reviewer, item: Item | None, *, item_id: int) -> Item:
    """The escalated item the reviewer may decide (locked by the caller), or the 4xx why not."""
    if item is None or item.is_gold:
        raise NotFound(f"no escalated item {item_id}")
    if not can_review_items(reviewer, item.project):
        raise Forbidden("only the project's reviewers decide escalated items")
    if item.state != ItemState.ESCALATED:
        raise Conflict(f"item {item_id} is {item.state}, not waiting for review")
    return item


def review_payload(
    item: Item, *, action: str, candidate=None, payload: dict | None = None, reason: str = ""
) -> dict | None:
    """The label an expert's decision promotes, validated; None for a rejection."""
    if action == "reject":
        if not reason.strip():
            raise InvalidInput("a rejection needs a reason")
        return None
    if action == "accept":
        payload = _candidate_payload(item, candidate, consensus_latest(item))
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
    return payload


def consensus_latest(item: Item) -> ConsensusResult | None:
    return item.consensus_results.order_by("-round").first()


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
