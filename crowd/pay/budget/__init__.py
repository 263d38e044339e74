"""Project budgets in the ledger: funding, reservations, release, and the reward.

:mod:`.funds` owns a project's budget accounts (funded up to the authorised ``budget_minor``,
set and read by its manager); :mod:`.reservations` what one piece of work holds of the budget
(reserved at the claim or when its slot is funded, released, paid on approval) and the
concurrency contract of claims. Each module's docstring states its transaction contract. The
public names are re-exported here, so ``crowd.pay.budget.budget_claim`` & co. keep their path.
"""

from .funds import (
    BudgetSummary,
    amount_parse,
    budget_accounts_locked,
    budget_can_pay,
    budget_fund,
    budget_set,
    budget_summary,
    unledgered_cost,
)
from .reservations import (
    BudgetTight,
    budget_claim,
    budget_release,
    budget_reward,
    concurrent_claims,
)

__all__ = [
    "BudgetSummary",
    "BudgetTight",
    "amount_parse",
    "budget_accounts_locked",
    "budget_can_pay",
    "budget_claim",
    "budget_fund",
    "budget_release",
    "budget_reward",
    "budget_set",
    "budget_summary",
    "concurrent_claims",
    "unledgered_cost",
]
