"""Qualification verbs: types, project requirements, grants (manual, automatic, computed),
qualification tests, and the quality gate that acts on gold answers.

Every grant change writes a QualificationEvent in the same transaction: the audit trail is
complete by construction. Grants are one row per (type, worker); concurrent creators meet at
that unique constraint, and changes lock the row.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from crowd.accounts.access import can_change_owned, can_take_tasks
from crowd.assignment.models import SUBMITTED_STATUSES, Assignment, AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NotEligible, NotFound
from workflows.projects.models import Item

from .models import (
    LIST_COMPARATORS,
    PRESENCE_COMPARATORS,
    Comparator,
    QualificationEvent,
    QualificationEventKind,
    QualificationGrant,
    QualificationRequirement,
    QualificationTestAttempt,
    QualificationType,
    SystemQualification,
)
from .selectors import grant_is_held
from .selectors import qualification_test_next_item_ids as qualification_test_next_item_ids

logger = logging.getLogger(__name__)

AUTO_GRANT_REASON = "auto-granted on first request"


def _save(instance, conflict_message: str):
    try:
        instance.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        prefix = "" if field == "__all__" else f"{field}: "
        if any("already exists" in m for m in messages):
            raise Conflict(conflict_message) from None
        raise InvalidInput(prefix + messages[0], details=exc.message_dict) from None
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        raise Conflict(conflict_message) from None
    return instance


def qualification_type_create(*, owner, **fields) -> QualificationType:
    if fields.get("auto_grant") and fields.get("auto_grant_value") is None:
        raise InvalidInput("auto_grant_value: an auto-granted qualification needs a value")
    return _save(
        QualificationType(owner=owner, **fields),
        f"a qualification type named {fields.get('name')!r} already exists",
    )


def qualification_type_update(*, qualification_type: QualificationType, **fields):
    for name, value in fields.items():
        setattr(qualification_type, name, value)
    if qualification_type.auto_grant and qualification_type.auto_grant_value is None:
        raise InvalidInput("auto_grant_value: an auto-granted qualification needs a value")
    return _save(qualification_type, "a qualification type with that name already exists")


def _operands_normalise(comparator: str, value, values) -> tuple:
    if comparator in PRESENCE_COMPARATORS:
        if value is not None or values:
            raise InvalidInput(f"{comparator} takes no value")
        return None, None
    if comparator in LIST_COMPARATORS:
        if value is not None or not values:
            raise InvalidInput(f"{comparator} needs a non-empty list of integer values")
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise InvalidInput("values must be integers")
        return None, sorted(set(values))
    if value is None or values:
        raise InvalidInput(f"{comparator} needs exactly one integer value")
    return value, None


def requirement_create(
    *, project, qualification_type, comparator: str, value=None, values=None
) -> QualificationRequirement:
    value, values = _operands_normalise(comparator, value, values)
    return _save(
        QualificationRequirement(
            project=project,
            qualification_type=qualification_type,
            comparator=comparator,
            value=value,
            values=values,
        ),
        "this project already has a requirement on that qualification type",
    )


def requirement_update(
    *, requirement: QualificationRequirement, comparator=None, value=None, values=None
) -> QualificationRequirement:
    comparator = comparator or requirement.comparator
    requirement.comparator = comparator
    requirement.value, requirement.values = _operands_normalise(comparator, value, values)
    return _save(requirement, "this project already has a requirement on that qualification type")


def qualification_type_delete(*, qualification_type: QualificationType) -> None:
    try:
        qualification_type.delete()
    except ProtectedError:
        raise Conflict(
            "projects require this qualification; remove the requirements first"
        ) from None


# -- grants ----------------------------------------------------------------------------------


def _event(grant, kind: str, *, value=None, actor=None, reason: str = "", project=None):
    return QualificationEvent.objects.create(
        grant=grant, kind=kind, value=value, actor=actor, reason=reason, project=project
    )


def _lifetime_expiry(qualification_type: QualificationType, now: datetime) -> datetime | None:
    seconds = qualification_type.grant_lifetime_seconds
    return now + timedelta(seconds=seconds) if seconds else None


def _grant_locked(*, qualification_type, worker, value: int, now: datetime, expires_at=None):
    """The worker's grant row of this type, locked, created with ``value`` if missing.

    Returns ``(grant, created)``. Call inside a transaction. Concurrent creators meet at the
    unique constraint; the loser reads (and locks) the winner's row.
    """
    return QualificationGrant.objects.select_for_update().get_or_create(
        qualification_type=qualification_type,
        worker=worker,
        defaults={"value": value, "granted_at": now, "expires_at": expires_at},
    )


def _grant_set(grant, *, value: int, now: datetime, expires_at) -> bool:
    """Give a locked grant ``value`` and ``expires_at``, re-granting it if it was not held.

    Returns True if the grant was held before (a change), False if it was (re)granted.
    """
    held = grant_is_held(grant, now=now)
    if not held:
        grant.granted_at, grant.revoked_at = now, None
    grant.value, grant.expires_at = value, expires_at
    grant.save(update_fields=["value", "granted_at", "expires_at", "revoked_at"])
    return held


def _check_may_manage(*, actor, qualification_type: QualificationType) -> None:
    if qualification_type.system:
        raise InvalidInput(
            f"'{qualification_type.name}' is computed by Quorum and cannot be granted or "
            "revoked by hand"
        )
    if not can_change_owned(actor, owner_id=qualification_type.owner_id):
        raise Forbidden(
            f"only the owner of '{qualification_type.name}' or an operator may grant or revoke it"
        )


def qualification_grant(
    *,
    qualification_type: QualificationType,
    worker,
    value: int,
    actor,
    reason: str = "",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> QualificationGrant:
    """Grant ``value`` to a worker by hand (or change the value they hold), with an audit event.

    ``expires_at`` defaults to the type's grant lifetime from now (none: never expires).
    A revoked or expired grant is granted afresh.
    """
    now = now or timezone.now()
    _check_may_manage(actor=actor, qualification_type=qualification_type)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("value must be an integer")
    if not can_take_tasks(worker):
        raise InvalidInput(
            f"only workers hold qualifications; {worker.username} is a {worker.role}"
        )
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future")
    expires_at = expires_at or _lifetime_expiry(qualification_type, now)
    with transaction.atomic():
        grant, created = _grant_locked(
            qualification_type=qualification_type,
            worker=worker,
            value=value,
            now=now,
            expires_at=expires_at,
        )
        changed = not created and _grant_set(grant, value=value, now=now, expires_at=expires_at)
        kind = QualificationEventKind.CHANGED if changed else QualificationEventKind.GRANTED
        _event(grant, kind, value=value, actor=actor, reason=reason.strip())
    return grant


def qualification_revoke(
    *, qualification_type: QualificationType, worker, actor, reason: str, now=None
) -> QualificationGrant:
    """Revoke a worker's grant by hand; the row stays, with ``revoked_at`` and an audit event."""
    now = now or timezone.now()
    _check_may_manage(actor=actor, qualification_type=qualification_type)
    if not (reason or "").strip():
        raise InvalidInput("reason: a revocation needs a reason")
    with transaction.atomic():
        grant = (
            QualificationGrant.objects.select_for_update()
            .filter(qualification_type=qualification_type, worker=worker)
            .first()
        )
        if grant is None:
            raise NotFound(f"{worker.username} does not hold '{qualification_type.name}'")
        if grant.revoked_at is not None:
            raise Conflict(
                f"'{qualification_type.name}' of {worker.username} was already revoked "
                f"at {grant.revoked_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            )
        _grant_revoke(grant, actor=actor, reason=reason.strip(), now=now)
    return grant


def _grant_revoke(grant, *, actor, reason: str, now: datetime, project=None) -> None:
    grant.revoked_at = now
    grant.save(update_fields=["revoked_at"])
    _event(
        grant,
        QualificationEventKind.REVOKED,
        value=grant.value,
        actor=actor,
        reason=reason,
        project=project,
    )


def qualification_auto_grant_for_project(
    *, worker, project, now: datetime | None = None
) -> list[QualificationGrant]:
    """Auto-grant every auto-granting type the project requires that the worker has no grant
    row for (MTurk's "granted on first request"). Returns the grants created.

    A revoked or expired grant is a row, so it is not granted again: auto-grant is a default,
    not a way around a revocation. Types required as ``not_exists`` are never auto-granted
    (that would lock the worker out on their first request). Idempotent and race-safe: a
    concurrent request that created the row first wins at the unique constraint.
    """
    now = now or timezone.now()
    wanted = (
        QualificationRequirement.objects.filter(
            project=project,
            qualification_type__auto_grant=True,
            qualification_type__is_active=True,
            qualification_type__system="",
        )
        .exclude(comparator=Comparator.NOT_EXISTS)
        .values("qualification_type_id")
    )
    candidates = (
        QualificationType.objects.filter(pk__in=wanted)
        .exclude(grants__worker=worker)
        .order_by("id")
    )
    created = []
    for qtype in candidates:
        try:
            with transaction.atomic():
                grant = QualificationGrant.objects.create(
                    qualification_type=qtype,
                    worker=worker,
                    value=qtype.auto_grant_value,
                    granted_at=now,
                    expires_at=_lifetime_expiry(qtype, now),
                )
                _event(
                    grant,
                    QualificationEventKind.GRANTED,
                    value=grant.value,
                    reason=AUTO_GRANT_REASON,
                    project=project,
                )
        except IntegrityError:
            continue  # another request granted it first
        created.append(grant)
    return created


# -- system qualifications -------------------------------------------------------------------

SYSTEM_TYPE_NAMES = {
    SystemQualification.APPROVAL_RATE: "System: approval rate (%)",
    SystemQualification.APPROVED_COUNT: "System: approved assignments",
    SystemQualification.GOLD_ACCURACY: "System: gold accuracy (%)",
}


def system_qualification_type(key: str) -> QualificationType:
    """The QualificationType row of a system qualification, created on first use."""
    qtype = QualificationType.objects.filter(system=key).first()
    if qtype is not None:
        return qtype
    name = SYSTEM_TYPE_NAMES[SystemQualification(key)]
    try:
        with transaction.atomic():
            return QualificationType.objects.create(
                system=key,
                name=name,
                description=f"{SystemQualification(key).label}, computed from work history.",
            )
    except IntegrityError:
        qtype = QualificationType.objects.filter(system=key).first()
        if qtype is None:  # the name is taken by a hand-made type
            raise Conflict(f"cannot create the system qualification: {name!r} is taken") from None
        return qtype


def _system_values(worker, keys) -> dict[str, int | None]:
    """Current values recomputed from the assignment rows (one aggregate query).

    ``None`` where there is nothing to compute from: no reviewed work (approval rate), no
    scored gold answer (gold accuracy). A gold answer is correct when it reaches its
    project's ``gold_pass_score``, as in the quality gate.
    """
    scored = Q(gold_score__isnull=False, status__in=SUBMITTED_STATUSES)
    row = Assignment.objects.filter(worker=worker).aggregate(
        approved=Count("id", filter=Q(status=AssignmentStatus.APPROVED)),
        rejected=Count("id", filter=Q(status=AssignmentStatus.REJECTED)),
        gold_n=Count("id", filter=scored),
        gold_ok=Count("id", filter=scored & Q(gold_score__gte=F("project__gold_pass_score"))),
    )
    reviewed = row["approved"] + row["rejected"]
    values = {
        SystemQualification.APPROVAL_RATE: (
            round(100 * row["approved"] / reviewed) if reviewed else None
        ),
        SystemQualification.APPROVED_COUNT: row["approved"],
        SystemQualification.GOLD_ACCURACY: (
            round(100 * row["gold_ok"] / row["gold_n"]) if row["gold_n"] else None
        ),
    }
    return {key: values[key] for key in keys}


def _system_grants_refresh(*, worker, keys, now: datetime) -> dict[str, int | None]:
    values = _system_values(worker, keys)
    with transaction.atomic():
        for key, value in values.items():
            if value is None:
                continue
            qtype = system_qualification_type(key)
            grant, created = _grant_locked(
                qualification_type=qtype, worker=worker, value=value, now=now
            )
            if created:
                _event(grant, QualificationEventKind.GRANTED, value=value, reason="computed")
            elif grant.value != value or not grant_is_held(grant, now=now):
                _grant_set(grant, value=value, now=now, expires_at=None)
                _event(grant, QualificationEventKind.CHANGED, value=value, reason="recomputed")
    return values


def system_qualifications_refresh(*, worker, now: datetime | None = None) -> dict[str, int | None]:
    """Recompute approval rate (percent of reviewed work approved), approved count and gold
    accuracy (percent of scored gold answers that passed) into the worker's system grants.

    An event is written only when a value changes. A value with nothing to compute from
    (e.g. no reviewed work yet) leaves the grant absent or unchanged. Returns the values.
    """
    return _system_grants_refresh(
        worker=worker, keys=list(SYSTEM_TYPE_NAMES), now=now or timezone.now()
    )


# -- gold answers: accuracy, the quality gate, qualification tests ----------------------------


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
    from .gate import quality_gate_run  # the gate builds on the grant verbs of this module

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
