"""Qualification reads: which requirements a worker fails, and who may see which grants and events.

A grant is *held* when it is neither revoked nor expired (``expires_at <= now`` is expired).
As in MTurk, a worker who does not hold the qualification fails every comparator except
``not_exists`` (``neq`` and ``not_in`` included: "not 3" is not "anything, even nothing").
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, FilteredRelation, Q, QuerySet
from django.utils import timezone

from crowd.accounts.access import Role, is_operator
from crowd.assignment.models import Assignment

from .models import (
    Comparator,
    QualificationEvent,
    QualificationGrant,
    QualificationRequirement,
    QualificationTestAttempt,
)

_SYMBOLS = dict(Comparator.choices)


@dataclass(frozen=True)
class UnmetRequirement:
    """One requirement of a project that the worker fails, with a sentence saying why."""

    qualification_type_id: int
    name: str
    comparator: str
    expected: int | list[int] | None
    actual: int | None
    message: str


def grant_is_held(grant: QualificationGrant | None, *, now: datetime) -> bool:
    """True if the grant exists, is not revoked and has not expired at ``now``."""
    return (
        grant is not None
        and grant.revoked_at is None
        and (grant.expires_at is None or grant.expires_at > now)
    )


def comparator_holds(comparator: str, actual: int | None, *, value=None, values=None) -> bool:
    """Whether a held value (``None``: not held) satisfies the comparator (MTurk semantics)."""
    if comparator == Comparator.NOT_EXISTS:
        return actual is None
    if actual is None:
        return False
    return {
        Comparator.EXISTS: lambda: True,
        Comparator.LT: lambda: actual < value,
        Comparator.LTE: lambda: actual <= value,
        Comparator.GT: lambda: actual > value,
        Comparator.GTE: lambda: actual >= value,
        Comparator.EQ: lambda: actual == value,
        Comparator.NEQ: lambda: actual != value,
        Comparator.IN: lambda: actual in values,
        Comparator.NOT_IN: lambda: actual not in values,
    }[comparator]()


# The same semantics in SQL, for the fast claim's statement (crowd/assignment/claim_sql.py);
# tests/qualifications/test_comparator_sql.py checks that the two agree on every comparator.
_SQL_TESTS = {
    Comparator.EXISTS: "true",
    Comparator.LT: "{actual} < {value}",
    Comparator.LTE: "{actual} <= {value}",
    Comparator.GT: "{actual} > {value}",
    Comparator.GTE: "{actual} >= {value}",
    Comparator.EQ: "{actual} = {value}",
    Comparator.NEQ: "{actual} <> {value}",
    Comparator.IN: "{values} @> to_jsonb({actual})",
    Comparator.NOT_IN: "NOT {values} @> to_jsonb({actual})",
}


def comparator_holds_sql(
    *, comparator: str, held: str, actual: str, value: str, values: str
) -> str:
    """A PostgreSQL boolean expression of :func:`comparator_holds`, over SQL expressions: the
    comparator's name, whether the grant is held, its value, the requirement's value and its
    JSON list of values. Never NULL."""
    tests = " ".join(
        f"WHEN '{name}' THEN {test.format(actual=actual, value=value, values=values)}"
        for name, test in _SQL_TESTS.items()
    )
    return (
        f"(CASE WHEN {comparator} = '{Comparator.NOT_EXISTS}' THEN NOT {held}"
        f" WHEN NOT {held} THEN false"
        f" ELSE COALESCE(CASE {comparator} {tests} END, false) END)"
    )


def _why_not_held(grant: QualificationGrant | None) -> str:
    if grant is None:
        return "you do not hold it"
    if grant.revoked_at is not None:
        return "you do not hold it (it was revoked)"
    return f"you do not hold it (it expired at {grant.expires_at:%Y-%m-%d %H:%M} UTC)"


def _unmet_message(req: QualificationRequirement, grant, actual: int | None) -> str:
    name = req.qualification_type.name
    if req.comparator == Comparator.NOT_EXISTS:
        return f"'{name}' must not be held; you hold it (value {actual})"
    if req.comparator == Comparator.EXISTS:
        return f"requires '{name}'; {_why_not_held(grant)}"
    operand = req.value if req.values is None else req.values
    wanted = f"requires '{name}' {_SYMBOLS[req.comparator]} {operand}"
    return (
        f"{wanted}; you have {actual}"
        if actual is not None
        else f"{wanted}; {_why_not_held(grant)}"
    )


def _unmet(req: QualificationRequirement, grant, *, now: datetime) -> UnmetRequirement | None:
    """Why the worker (holding ``grant``, or no row: None) fails ``req``; None if they meet it."""
    actual = grant.value if grant_is_held(grant, now=now) else None
    if comparator_holds(req.comparator, actual, value=req.value, values=req.values):
        return None
    return UnmetRequirement(
        qualification_type_id=req.qualification_type_id,
        name=req.qualification_type.name,
        comparator=req.comparator,
        expected=req.value if req.values is None else list(req.values),
        actual=actual,
        message=_unmet_message(req, grant, actual),
    )


def requirements_unmet(*, worker, project, now: datetime | None = None) -> list[UnmetRequirement]:
    """The project's requirements the worker fails at ``now``, ordered by requirement id.

    Two queries whatever the number of requirements: the requirements with their types, and
    the worker's grants of those types.
    """
    now = now or timezone.now()
    requirements = list(
        QualificationRequirement.objects.filter(project=project)
        .select_related("qualification_type")
        .order_by("id")
    )
    if not requirements:
        return []
    grants = {
        g.qualification_type_id: g
        for g in QualificationGrant.objects.filter(
            worker=worker, qualification_type_id__in=[r.qualification_type_id for r in requirements]
        )
    }
    found = (_unmet(req, grants.get(req.qualification_type_id), now=now) for req in requirements)
    return [u for u in found if u is not None]


@dataclass(frozen=True)
class RequirementCheck:
    """What a claim needs to know: the requirements the worker fails, and whether one of them
    is auto-granted and the worker has no grant row of it yet (so an auto-grant would help)."""

    unmet: list[UnmetRequirement]
    auto_grant_due: bool


def requirements_check(*, worker, project, now: datetime) -> RequirementCheck:
    """:func:`requirements_unmet` in one query, for the claim's hot path: each requirement with
    its type and this worker's grant row of that type (at most one: grants are unique per type
    and worker), joined in the database rather than fetched in a second round trip."""
    rows = (
        QualificationRequirement.objects.filter(project=project)
        .select_related("qualification_type")
        .annotate(
            own=FilteredRelation(
                "qualification_type__grants",
                condition=Q(qualification_type__grants__worker=worker),
            ),
            grant_pk=F("own__id"),
            grant_value=F("own__value"),
            grant_revoked_at=F("own__revoked_at"),
            grant_expires_at=F("own__expires_at"),
        )
        .order_by("id")
    )
    unmet, auto_grant_due = [], False
    for req in rows:
        grant = None
        if req.grant_pk is not None:
            # Only the fields the comparators and messages read; never saved.
            grant = QualificationGrant(
                pk=req.grant_pk,
                value=req.grant_value,
                revoked_at=req.grant_revoked_at,
                expires_at=req.grant_expires_at,
            )
        qtype = req.qualification_type
        # The same test as qualification_auto_grant_for_project's candidates.
        auto_grant_due |= (
            grant is None
            and qtype.auto_grant
            and qtype.is_active
            and not qtype.system
            and req.comparator != Comparator.NOT_EXISTS
        )
        failed = _unmet(req, grant, now=now)
        if failed is not None:
            unmet.append(failed)
    return RequirementCheck(unmet=unmet, auto_grant_due=auto_grant_due)


def grant_list_visible_for(*, user) -> QuerySet[QualificationGrant]:
    """Operators and auditors see every grant, managers the grants of their own types, workers
    their own; reviewers none."""
    grants = QualificationGrant.objects.select_related("qualification_type", "worker")
    if is_operator(user) or user.role == Role.AUDITOR:
        return grants
    if user.role == Role.MANAGER:
        return grants.filter(qualification_type__owner=user)
    if user.role == Role.WORKER:
        return grants.filter(worker=user)
    return grants.none()


def event_list_visible_for(*, user) -> QuerySet[QualificationEvent]:
    """The audit trail: operators and auditors see all of it; managers the events on grants of
    their own types and the events their projects caused (quality gates, tests); workers their
    own; reviewers none."""
    events = QualificationEvent.objects.select_related(
        "grant__qualification_type", "grant__worker", "actor"
    )
    if is_operator(user) or user.role == Role.AUDITOR:
        return events
    if user.role == Role.MANAGER:
        return events.filter(Q(grant__qualification_type__owner=user) | Q(project__owner=user))
    if user.role == Role.WORKER:
        return events.filter(grant__worker=user)
    return events.none()


def qualification_test_attempt_open(
    *, worker, qualification_type
) -> QualificationTestAttempt | None:
    return QualificationTestAttempt.objects.filter(
        worker=worker, qualification_type=qualification_type, completed_at__isnull=True
    ).first()


def qualification_test_next_item_ids(*, attempt: QualificationTestAttempt) -> list[int]:
    """Items of the attempt the worker has not been assigned yet, lowest id first."""
    seen = set(
        Assignment.objects.filter(
            worker_id=attempt.worker_id, item_id__in=attempt.item_ids
        ).values_list("item_id", flat=True)
    )
    return sorted(i for i in attempt.item_ids if i not in seen)
