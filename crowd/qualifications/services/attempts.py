"""Gold answers and qualification tests: recording a scored gold answer (gold accuracy, the
quality gate, completing a test) and starting or resuming a worker's test attempt.

``gold_result_record`` runs inside the submit transaction (its precondition). An open attempt
is locked (``select_for_update``) while it is scored and closed; a worker has at most one open
attempt per type (a unique constraint), so concurrent starts resume the same attempt.
"""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from crowd.accounts.access import can_take_tasks
from crowd.assignment.models import SUBMITTED_STATUSES, Assignment, AssignmentStatus
from crowd.common.exceptions import NotEligible
from workflows.projects.models import Item

from ..models import (
    QualificationEventKind,
    QualificationTestAttempt,
    QualificationType,
    SystemQualification,
)
from .grants import _event, _grant_locked, _grant_set, _lifetime_expiry
from .system import _system_grants_refresh, system_qualifications_refresh


def gold_result_record(*, assignment: Assignment, now: datetime | None = None):
    """Take note of a scored gold answer: refresh the worker's gold accuracy, run the
    project's quality gate, and complete the worker's qualification test if this was its last
    item. Returns the gate's verdict (None when the gate is off), whose block is the caller's
    (:mod:`workflows.pipeline.quality_gate`).

    Precondition: called inside the submit transaction, after the assignment was saved as
    submitted with its ``gold_score``. Does nothing for an assignment without a score.
    """
    if assignment.gold_score is None:
        return None
    now = now or timezone.now()
    worker, project = assignment.worker, assignment.project
    from ..gate import quality_gate_run  # the gate builds on the grant verbs of this package

    _system_grants_refresh(worker=worker, keys=[SystemQualification.GOLD_ACCURACY], now=now)
    verdict = quality_gate_run(worker=worker, project=project, now=now)
    attempts = (
        QualificationTestAttempt.objects.select_for_update(of=("self",))
        .filter(
            worker=worker,
            completed_at__isnull=True,
            assignments=assignment,
            qualification_type__test_project_id=project.pk,
        )
        .select_related("qualification_type")
    )
    for attempt in attempts:
        _test_attempt_try_complete(attempt, now=now)
    return verdict


def _test_attempt_try_complete(attempt: QualificationTestAttempt, *, now: datetime) -> bool:
    """Score and close a locked open attempt once each of its items has a final assignment.

    A test item the worker let expire or returned scores 0, so an abandoned attempt can be
    closed (and retaken after the delay) instead of staying open for ever.
    """
    item_ids = list(attempt.item_ids)
    rows = list(
        Assignment.objects.filter(worker_id=attempt.worker_id, item_id__in=item_ids).values_list(
            "status", "gold_score"
        )
    )
    if not item_ids or len(rows) < len(item_ids):
        return False
    if any(status == AssignmentStatus.LEASED for status, _ in rows):
        return False
    answered = [score or 0.0 for status, score in rows if status in SUBMITTED_STATUSES]
    score = min(1.0, max(0.0, sum(answered) / len(item_ids)))
    attempt.completed_at, attempt.score = now, score
    attempt.save(update_fields=["completed_at", "score"])
    qtype, value = attempt.qualification_type, round(100 * score)
    grant, created = _grant_locked(
        qualification_type=qtype,
        worker=attempt.worker,
        value=value,
        now=now,
        expires_at=_lifetime_expiry(qtype, now),
    )
    if not created:
        _grant_set(grant, value=value, now=now, expires_at=_lifetime_expiry(qtype, now))
    _event(
        grant,
        QualificationEventKind.TEST_SCORED,
        value=value,
        reason=(
            f"qualification test: {len(answered)} of {len(item_ids)} items answered, "
            f"mean score {score:.2f}"
        ),
        project=qtype.test_project,
    )
    system_qualifications_refresh(worker=attempt.worker, now=now)
    return True


def qualification_test_start(
    *, worker, qualification_type: QualificationType, now: datetime | None = None
) -> QualificationTestAttempt:
    """Start (or resume: idempotent) the worker's attempt at a qualification test.

    The attempt is ``test_size`` gold items of the test project the worker has never been
    assigned, lowest id first, stored in ``item_ids``; the worker then claims them on the test
    project through the normal claim flow. Refused (NotEligible) with the reason when the type
    has no test, the last attempt is too recent, or too few unseen items are left.
    """
    now = now or timezone.now()
    name = qualification_type.name
    if not can_take_tasks(worker):
        raise NotEligible("only workers take qualification tests")
    if qualification_type.test_project_id is None or not qualification_type.is_active:
        raise NotEligible(f"'{name}' has no qualification test")
    if qualification_type.test_size < 1:
        raise NotEligible(f"the test of '{name}' has no items")
    with transaction.atomic():
        open_attempt = (
            QualificationTestAttempt.objects.select_for_update(of=("self",))
            .filter(worker=worker, qualification_type=qualification_type, completed_at__isnull=True)
            .select_related("qualification_type")
            .first()
        )
        if open_attempt is not None and not _test_attempt_try_complete(open_attempt, now=now):
            return open_attempt
    last = (
        QualificationTestAttempt.objects.filter(
            worker=worker, qualification_type=qualification_type, completed_at__isnull=False
        )
        .order_by("-completed_at")
        .first()
    )
    if last is not None:
        retake_at = last.completed_at + timedelta(seconds=qualification_type.retake_delay_seconds)
        if retake_at > now:
            raise NotEligible(
                f"you can retake this test after {retake_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
                details={"retake_at": retake_at.isoformat()},
            )
    item_ids = list(
        Item.objects.filter(project_id=qualification_type.test_project_id, is_gold=True)
        .exclude(assignments__worker=worker)
        .order_by("id")
        .values_list("id", flat=True)[: qualification_type.test_size]
    )
    if len(item_ids) < qualification_type.test_size:
        raise NotEligible(
            f"not enough unseen test items left: {len(item_ids)} of "
            f"{qualification_type.test_size} needed"
        )
    try:
        with transaction.atomic():
            return QualificationTestAttempt.objects.create(
                qualification_type=qualification_type,
                worker=worker,
                started_at=now,
                item_ids=item_ids,
            )
    except IntegrityError:  # a concurrent request opened the attempt first: resume it
        return QualificationTestAttempt.objects.get(
            worker=worker, qualification_type=qualification_type, completed_at__isnull=True
        )
