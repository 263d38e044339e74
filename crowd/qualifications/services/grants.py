"""Grants of hand-made qualification types: by hand (grant, change, revoke) and automatic
(auto-grant on a worker's first request of a project that requires the type).

Every grant change writes a QualificationEvent in the same transaction: the audit trail is
complete by construction. Grants are one row per (type, worker); concurrent creators meet at
that unique constraint, and changes lock the row (``_grant_locked``).
"""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from crowd.accounts.access import can_change_owned, can_take_tasks
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NotFound

from ..models import (
    Comparator,
    QualificationEvent,
    QualificationEventKind,
    QualificationGrant,
    QualificationRequirement,
    QualificationType,
)
from ..selectors import grant_is_held

AUTO_GRANT_REASON = "auto-granted on first request"


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
