"""Automatic review: approval of work past its project's delay, and approval or rejection by
agreement with the item's trusted answer (gold, or the promoted consensus).

Decisions go through the same moves as a manager's (:mod:`crowd.pay.review`): conditional
moves of locked assignment rows in one transaction with their ledger postings and a
ReviewDecision, so a replayed or concurrent run decides once and pays once. Rows another
transaction holds are skipped (SKIP LOCKED) and taken by the next run; scoring is done before
the transaction.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.common.exceptions import Conflict, NotFound
from crowd.labeling.models import Annotation
from crowd.qualifications.scoring import answer_score
from workflows.golden.models import GoldenAnnotation
from workflows.projects.models import Item, Project

from .review import ReviewReport, _approve, _reject

logger = logging.getLogger(__name__)

AUTO_BATCH = 200


def assignments_auto_approve_due(*, now: datetime | None = None, batch: int = AUTO_BATCH) -> int:
    """Approve submitted work older than its project's ``auto_approve_seconds``; returns how
    many. Safe to replay or run concurrently: rows another transaction holds are skipped (the
    next run takes them), decided rows are left alone, and the reward key pays once. Work the
    budget cannot pay is left submitted and logged; work flagged for review waits for a person.
    """
    now = now or timezone.now()
    total = 0
    project_ids = (
        Assignment.objects.filter(status=AssignmentStatus.SUBMITTED)
        .values_list("project_id", flat=True)
        .distinct()
    )
    for project in Project.objects.filter(pk__in=list(project_ids)).order_by("pk"):
        cutoff = now - timedelta(seconds=project.auto_approve_seconds)
        evidence = {"via": "auto_delay", "auto_approve_seconds": project.auto_approve_seconds}
        last = 0
        while True:
            with transaction.atomic():
                ids = list(
                    Assignment.objects.select_for_update(skip_locked=True)
                    .filter(
                        project=project,
                        status=AssignmentStatus.SUBMITTED,
                        submitted_at__lte=cutoff,
                        flagged_for_review=False,  # the quality gate wants a person to look
                        pk__gt=last,
                    )
                    .order_by("pk")
                    .values_list("pk", flat=True)[:batch]
                )
                if not ids:
                    break
                last = ids[-1]
                rows = list(
                    Assignment.objects.select_related("project", "item", "worker")
                    .filter(pk__in=ids, status=AssignmentStatus.SUBMITTED)
                    .order_by("pk")
                )
                total += _approve_each(rows, now=now, evidence=lambda a, e=evidence: e)
    return total


def _approve_each(rows, *, now: datetime, evidence) -> int:
    """Automatic approval row by row, so one unpayable row does not hold back the others."""
    done = 0
    for a in rows:
        try:
            with transaction.atomic():
                done += len(_approve([a], actor=None, now=now, automatic=True, evidence=evidence))
        except Conflict as exc:
            logger.warning("automatic approval of assignment %s skipped: %s", a.pk, exc.message)
    return done


def _reference(item: Item) -> tuple[dict | None, dict]:
    """The trusted answer to compare with, and its provenance: the gold answer of a gold item,
    else the item's current golden annotation (promoted by consensus or by a reviewer)."""
    if item.is_gold:
        return item.gold_answer, {"via": "gold"}
    golden = GoldenAnnotation.objects.filter(item=item, superseded_at__isnull=True).first()
    if golden is None:
        return None, {}
    return golden.payload, {
        "via": "consensus",
        "golden_annotation": golden.pk,
        "consensus_result": golden.consensus_result_id,
    }


def assignments_auto_review_for_item(*, item_id: int, now: datetime | None = None) -> ReviewReport:
    """Approve or reject the item's submitted answers by their agreement with its trusted
    answer (gold, or the promoted consensus), when the project sets thresholds: a score of at
    least ``auto_approve_min_agreement`` approves, below ``auto_reject_max_agreement`` rejects,
    anything between waits for a person (or the delay). Each decision records its evidence.
    Safe to call any number of times; an item with no trusted answer yet is left alone.
    """
    now = now or timezone.now()
    item = Item.objects.select_related("project__label_schema").filter(pk=item_id).first()
    if item is None:
        raise NotFound(f"no item {item_id}")
    project = item.project
    low, high = project.auto_reject_max_agreement, project.auto_approve_min_agreement
    report = ReviewReport()
    if low is None and high is None:
        return report
    reference, provenance = _reference(item)
    if reference is None:
        return report
    # Scoring is numerical work: done before the transaction, on the answers as submitted.
    answers = Annotation.objects.filter(
        item=item, assignment__status=AssignmentStatus.SUBMITTED
    ).values_list("assignment_id", "payload")
    scores = {}
    for assignment_id, payload in answers:
        scores[assignment_id] = answer_score(
            kind=project.label_schema.kind,
            answer=payload,
            gold=reference,
            iou_threshold=project.iou_threshold,
        )
    approve = sorted(i for i, s in scores.items() if high is not None and s >= high)
    reject = sorted(
        i for i, s in scores.items() if low is not None and s < low and i not in approve
    )

    def evidence(a):
        return {**provenance, "score": round(scores[a.pk], 6), "thresholds": [low, high]}

    with transaction.atomic():
        rows = {
            a.pk: a
            for a in Assignment.objects.select_for_update(of=("self",))
            .select_related("project", "item", "worker")
            .filter(pk__in=approve + reject, status=AssignmentStatus.SUBMITTED)
            .order_by("pk")
        }
        to_approve = [rows[i] for i in approve if i in rows and not rows[i].flagged_for_review]
        report.changed += _approve(
            to_approve, actor=None, now=now, automatic=True, evidence=evidence
        )
        for i in reject:
            if i not in rows:
                continue
            reason = (
                f"Automatic review: your answer agreed {scores[i]:.0%} with the trusted "
                f"answer; this project rejects answers below {low:.0%}."
            )
            report.changed += _reject(
                [rows[i]], actor=None, reason=reason, now=now, automatic=True, evidence=evidence
            )
    if report.changed:
        logger.info("item %s auto-reviewed: %s", item.pk, report.changed)
    return report
