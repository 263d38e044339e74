"""Qualification verbs: types, project requirements, grants (manual, automatic, computed),
qualification tests, and the quality gate that acts on gold answers.

Every grant change writes a QualificationEvent in the same transaction: the audit trail is
complete by construction. Grants are one row per (type, worker); concurrent creators meet at
that unique constraint, and changes lock the row.

The verbs live in four modules, each stating its own transaction contract: ``definitions``
(types and requirements), ``grants`` (by hand and automatic), ``system`` (computed
qualifications) and ``attempts`` (gold answers and qualification tests). The public names are
re-exported here: import them from ``crowd.qualifications.services``.
"""

from ..selectors import qualification_test_next_item_ids
from .attempts import gold_result_record, qualification_test_start
from .definitions import (
    qualification_type_create,
    qualification_type_delete,
    qualification_type_update,
    requirement_create,
    requirement_update,
)
from .grants import (
    AUTO_GRANT_REASON,
    qualification_auto_grant_for_project,
    qualification_grant,
    qualification_revoke,
)
from .system import SYSTEM_TYPE_NAMES, system_qualification_type, system_qualifications_refresh

__all__ = [
    "AUTO_GRANT_REASON",
    "SYSTEM_TYPE_NAMES",
    "gold_result_record",
    "qualification_auto_grant_for_project",
    "qualification_grant",
    "qualification_revoke",
    "qualification_test_next_item_ids",
    "qualification_test_start",
    "qualification_type_create",
    "qualification_type_delete",
    "qualification_type_update",
    "requirement_create",
    "requirement_update",
    "system_qualification_type",
    "system_qualifications_refresh",
]
