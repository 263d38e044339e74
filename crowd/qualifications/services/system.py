"""System qualifications (approval rate, approved count, gold accuracy), computed from a
worker's assignment rows into grants of the system types.

The values are read in one aggregate query, then written in one transaction, each grant row
locked (``_grant_locked``) and an event written only when a value changes, so a concurrent or
repeated refresh writes the same values. A system type's row is created on first use;
concurrent creators meet at its unique constraint.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from crowd.assignment.models import SUBMITTED_STATUSES, Assignment, AssignmentStatus
from crowd.common.exceptions import Conflict

from ..models import QualificationEventKind, QualificationType, SystemQualification
from ..selectors import grant_is_held
from .grants import _event, _grant_locked, _grant_set

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
