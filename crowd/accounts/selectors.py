"""Old home of the access rules, now in ``crowd.accounts.access``: these names are re-exported
only for the modules not yet switched (crowd/common/views.py, crowd/pay/budget.py,
crowd/pay/earnings.py, crowd/pay/review.py, crowd/qualifications/services.py,
workflows/golden/services.py). Import from ``access``; delete this module once they do."""

from .access import (
    can_see_gold_answers,
    is_operator,
    project_list_managed_by,
    project_list_readable_data_for,
    project_list_visible_for,
)

__all__ = [
    "can_see_gold_answers",
    "is_operator",
    "project_list_managed_by",
    "project_list_readable_data_for",
    "project_list_visible_for",
]
