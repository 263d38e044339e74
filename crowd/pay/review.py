"""Review of work: approve and reject (one or many), reversal, appeals. Automatic review, by
delay or by agreement with a trusted answer, is :mod:`crowd.pay.auto_review`.

Every decision is a conditional move of locked assignment rows (``submitted -> approved`` or
``-> rejected``) in one transaction with its ledger postings and a ReviewDecision row, so a
double click, two managers at once or a replayed task decide once and pay once (the ledger
keys ``reward:<id>`` and ``release:<id>`` are the last line). Rows are locked in id order.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from crowd.accounts.access import can_review_work
from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from crowd.qualifications.services import system_qualifications_refresh
from workflows.projects.items import item_slot_reopen

from .budget import budget_release, budget_reward
from .models import Appeal, AppealOutcome, ReviewDecision, ReviewOutcome

logger = logging.getLogger(__name__)

MAX_IDS = 500
TEXT_MAX = 2000


@dataclass
class ReviewReport:
    """Ids decided by this call, and ids that already had this decision (a repeat)."""

    changed: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)


def ids_parse(ids) -> list[int]:
    """A non-empty list of assignment ids (ints or digit strings), deduplicated, in order."""
    if not isinstance(ids, list | tuple) or not ids:
        raise InvalidInput("ids must be a non-empty list of assignment ids")
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS} assignments per request")
    parsed: list[int] = []
    for value in ids:
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidInput(f"{value!r} is not an assignment id")
        if value not in parsed:
            parsed.append(value)
    return parsed


def text_parse(value, *, what: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(f"{what} is required")
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"{what} has at most {TEXT_MAX} characters")
    return text


def _locked(ids: list[int], *, actor) -> list[Assignment]:
    """Lock the assignments (id order), refusing unknown ids and other people's projects."""
    rows = list(
        Assignment.objects.select_for_update(of=("self",))
        .select_related("project", "item", "worker")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    missing = sorted(set(ids) - {a.pk for a in rows})
    if missing:
        raise NotFound(f"no assignment {missing[0]}", details={"missing": missing})
    if actor is not None:
        refused = [a.pk for a in rows if not can_review_work(actor, a.project)]
        if refused:
            raise Forbidden(
                "only the project's owner or an operator may review this work",
                details={"assignments": refused},
            )
    return rows


def _check_statuses(rows: list[Assignment], *, wanted: str) -> list[Assignment]:
    """The rows still to decide; raise Conflict naming every row that cannot take ``wanted``."""
    problems = {}
    for a in rows:
        if a.status in (AssignmentStatus.SUBMITTED, wanted):
            continue
        if a.status == AssignmentStatus.REJECTED:
            problems[a.pk] = "it was rejected: reverse the rejection instead"
        elif a.status == AssignmentStatus.APPROVED:
            problems[a.pk] = "it was approved and paid; approved work cannot be rejected"
        else:
            problems[a.pk] = f"it is {a.status}: only submitted work can be reviewed"
    if problems:
        first = next(iter(problems))
        raise Conflict(
            f"assignment {first} cannot be {wanted}: {problems[first]}",
            details={"assignments": {str(k): v for k, v in problems.items()}},
        )
    return [a for a in rows if a.status == AssignmentStatus.SUBMITTED]


def _record(a: Assignment, decision: str, *, actor, automatic: bool, evidence: dict) -> None:
    ReviewDecision.objects.create(
        assignment=a, decision=decision, automatic=automatic, evidence=evidence, actor=actor
    )


def _approve(rows, *, actor, now: datetime, automatic: bool, evidence) -> list[int]:
    """Approve and pay the locked SUBMITTED rows. ``evidence`` maps an id to its evidence."""
    done = []
    for a in rows:
        moved = Assignment.objects.filter(pk=a.pk, status=AssignmentStatus.SUBMITTED).update(
            status=AssignmentStatus.APPROVED, reviewed_at=now, reviewed_by=actor
        )
        if not moved:
            continue
        budget_reward(assignment=a, actor=actor)
        _record(a, ReviewOutcome.APPROVE, actor=actor, automatic=automatic, evidence=evidence(a))
        done.append(a.pk)
    _refresh_workers({a.worker for a in rows if a.pk in done}, now=now)
    return done


def _reject(rows, *, actor, reason: str, now: datetime, automatic: bool, evidence) -> list[int]:
    done = []
    for a in rows:
        moved = Assignment.objects.filter(pk=a.pk, status=AssignmentStatus.SUBMITTED).update(
            status=AssignmentStatus.REJECTED, reviewed_at=now, reviewed_by=actor,
            reject_reason=reason,
        )  # fmt: skip
        if not moved:
            continue
        item_slot_reopen(a.item)
        _record(a, ReviewOutcome.REJECT, actor=actor, automatic=automatic, evidence=evidence(a))
        done.append(a.pk)
    budget_release(assignment_ids=done)
    _refresh_workers({a.worker for a in rows if a.pk in done}, now=now)
    return done


def _refresh_workers(workers, *, now: datetime) -> None:
    for worker in sorted(workers, key=lambda w: w.pk):
        system_qualifications_refresh(worker=worker, now=now)


def assignment_approve(
    *, ids, actor, now: datetime | None = None, evidence: dict | None = None
) -> ReviewReport:
    """Approve (and pay) submitted assignments, all or none: any unknown id is a NotFound,
    someone else's project a Forbidden, any assignment that is not submitted a Conflict.
    Already approved ids are reported unchanged (a double click)."""
    ids = ids_parse(ids)
    now = now or timezone.now()
    with transaction.atomic():
        rows = _locked(ids, actor=actor)
        todo = _check_statuses(rows, wanted=AssignmentStatus.APPROVED)
        done = _approve(
            todo, actor=actor, now=now, automatic=False,
            evidence=lambda a: {"via": "manual", **(evidence or {})},
        )  # fmt: skip
    logger.info("assignments %s approved by %s", done, actor.pk)
    return ReviewReport(changed=done, unchanged=[i for i in ids if i not in done])


def assignment_reject(*, ids, actor, reason, now: datetime | None = None) -> ReviewReport:
    """Reject submitted assignments with a reason the worker sees; all or none, as approval.
    Frees each item's slot and gives the reserved reward back to the budget."""
    ids = ids_parse(ids)
    reason = text_parse(reason, what="a reason (the worker sees it)")
    now = now or timezone.now()
    with transaction.atomic():
        rows = _locked(ids, actor=actor)
        todo = _check_statuses(rows, wanted=AssignmentStatus.REJECTED)
        done = _reject(
            todo, actor=actor, reason=reason, now=now, automatic=False,
            evidence=lambda a: {"via": "manual"},
        )  # fmt: skip
    logger.info("assignments %s rejected by %s: %s", done, actor.pk, reason)
    return ReviewReport(changed=done, unchanged=[i for i in ids if i not in done])


def _reverse_locked(a: Assignment, *, actor, now: datetime, evidence: dict) -> Assignment:
    """Approve and pay a locked, rejected assignment (its slot stays with whoever took it)."""
    Assignment.objects.filter(pk=a.pk, status=AssignmentStatus.REJECTED).update(
        status=AssignmentStatus.APPROVED, reviewed_at=now, reviewed_by=actor
    )
    budget_reward(assignment=a, actor=actor)
    _record(a, ReviewOutcome.APPROVE, actor=actor, automatic=False, evidence=evidence)
    _refresh_workers({a.worker}, now=now)
    a.refresh_from_db()
    return a


def reversal_deadline(a: Assignment) -> datetime | None:
    if a.reviewed_at is None:
        return None
    return a.reviewed_at + timedelta(seconds=a.project.reversal_seconds)


def assignment_rejection_reverse(
    *, assignment_id: int, actor, now: datetime | None = None
) -> Assignment:
    """Turn a rejection into an approval, and pay, within the project's reversal window."""
    now = now or timezone.now()
    with transaction.atomic():
        (a,) = _locked([assignment_id], actor=actor)
        if a.status == AssignmentStatus.APPROVED:
            return a  # a repeat of a reversal that went through
        if a.status != AssignmentStatus.REJECTED:
            raise Conflict(f"assignment {a.pk} is {a.status}; only a rejection can be reversed")
        deadline = reversal_deadline(a)
        if deadline is None or now > deadline:
            raise Conflict(
                f"the reversal window of assignment {a.pk} closed at "
                f"{deadline.isoformat() if deadline else 'its rejection'}"
            )
        a = _reverse_locked(
            a, actor=actor, now=now,
            evidence={"via": "reversal", "rejected_at": a.reviewed_at.isoformat(),
                      "reject_reason": a.reject_reason},
        )  # fmt: skip
    logger.info("rejection of assignment %s reversed by %s", a.pk, actor.pk)
    return a


# -- appeals ---------------------------------------------------------------------------------


def appeal_create(*, worker, assignment_id: int, message, now: datetime | None = None) -> Appeal:
    """A worker appeals their own rejection, once, within the project's reversal window."""
    message = text_parse(message, what="a message")
    now = now or timezone.now()
    with transaction.atomic():
        a = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("project")
            .filter(pk=assignment_id, worker=worker)
            .first()
        )
        if a is None:
            raise NotFound(f"you have no assignment {assignment_id}")
        if a.status != AssignmentStatus.REJECTED:
            raise Conflict(f"assignment {a.pk} is {a.status}; only a rejection can be appealed")
        if Appeal.objects.filter(assignment=a).exists():
            raise Conflict("you already appealed this rejection; an assignment is appealed once")
        deadline = reversal_deadline(a)
        if deadline is not None and now > deadline:
            raise Conflict(f"appeals of this rejection closed at {deadline.isoformat()}")
        try:
            with transaction.atomic():
                appeal = Appeal.objects.create(assignment=a, message=message)
        except IntegrityError:
            raise Conflict("you already appealed this rejection") from None
    logger.info("worker %s appealed the rejection of assignment %s", worker.pk, a.pk)
    return appeal


def appeal_answer(
    *, appeal_id: int, actor, outcome: str, answer, now: datetime | None = None
) -> Appeal:
    """The manager's final answer: ``upheld`` keeps the rejection, ``reversed`` approves and
    pays (even after the reversal window, since the appeal came in time). Logged."""
    if outcome not in AppealOutcome.values:
        raise InvalidInput(f"outcome must be one of {', '.join(AppealOutcome.values)}")
    answer = text_parse(answer, what="an answer (the worker sees it)")
    now = now or timezone.now()
    with transaction.atomic():
        appeal = (
            Appeal.objects.select_for_update(of=("self",))
            .select_related("assignment__project")
            .filter(pk=appeal_id)
            .first()
        )
        if appeal is None:
            raise NotFound(f"no appeal {appeal_id}")
        if not can_review_work(actor, appeal.assignment.project):
            raise Forbidden("only the project's owner or an operator answers its appeals")
        if appeal.outcome:
            raise Conflict(f"appeal {appeal.pk} was answered already; the answer is final")
        (a,) = _locked([appeal.assignment_id], actor=actor)
        if outcome == AppealOutcome.REVERSED:
            if a.status != AssignmentStatus.REJECTED:
                raise Conflict(f"assignment {a.pk} is {a.status}, no longer rejected")
            _reverse_locked(
                a, actor=actor, now=now, evidence={"via": "appeal", "appeal": appeal.pk}
            )
        Appeal.objects.filter(pk=appeal.pk).update(
            outcome=outcome, answer=answer, decided_by=actor, decided_at=now
        )
    logger.info(
        "appeal %s (assignment %s) %s by %s: %s", appeal.pk, a.pk, outcome, actor.pk, answer
    )
    appeal.refresh_from_db()
    return appeal
