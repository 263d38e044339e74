"""Qualification types and project requirements: create, change, delete.

Each write is one ``full_clean`` and one save in its own savepoint: a name (or a project's
requirement on a type) taken concurrently meets the unique constraint and is a Conflict, and a
type that projects still require is protected from deletion (Conflict).
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.deletion import ProtectedError

from crowd.common.exceptions import Conflict, InvalidInput

from ..models import (
    LIST_COMPARATORS,
    PRESENCE_COMPARATORS,
    QualificationRequirement,
    QualificationType,
)


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
