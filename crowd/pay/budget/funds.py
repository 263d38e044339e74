"""A project's budget accounts: funded up to the authorised budget, set and read by its manager.

Money flows ``funding -> project_budget`` (FUND, up to ``Project.budget_minor``), then into
``project_reserved`` (RESERVE) before any work is handed out, and either back (RELEASE) or on to
the worker (REWARD ``reward:<assignment>``) when the work is approved. So "available" is the
balance of ``project_budget`` and no lease is handed out that the budget cannot pay. This module
owns the accounts and the FUND movements; what one piece of work holds of the budget (RESERVE,
RELEASE, REWARD) is :mod:`crowd.pay.budget.reservations`.

Transactions and concurrency: every FUND movement is made under the row lock of the project's
budget account (``_lock``), which also waits for open reservations (see
:mod:`~crowd.pay.budget.reservations`); its key ``fund:<project>:<n>:<target>`` is unique per
change of the budget, so a replay finds its entry. Bonuses and slot funding take the same lock.
Reads (``budget_summary``, ``budget_can_pay``, ``unledgered_cost``) take no lock.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum

from crowd.accounts.access import can_manage_project
from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from workflows.projects.models import Project

from ..funding import slots_fund, slots_unfund_untaken
from ..ledger import account_for, balance, ledger_post
from ..models import AccountKind, EntryKind, LedgerAccount, LedgerEntry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BudgetSummary:
    authorised_minor: int
    funded_minor: int
    reserved_minor: int
    spent_minor: int
    available_minor: int
    currency: str


def _budget(project: Project) -> LedgerAccount:
    return account_for(kind=AccountKind.PROJECT_BUDGET, currency=project.currency, project=project)


def _reserved(project: Project) -> LedgerAccount:
    return account_for(
        kind=AccountKind.PROJECT_RESERVED, currency=project.currency, project=project
    )


def _payable(project: Project, worker) -> LedgerAccount:
    return account_for(kind=AccountKind.WORKER_PAYABLE, currency=project.currency, worker=worker)


def _lock(account: LedgerAccount) -> None:
    """Precondition: inside a transaction. Waits for open reservations; see
    :mod:`crowd.pay.budget.reservations`."""
    LedgerAccount.objects.select_for_update().filter(pk=account.pk).first()


def _funded(budget: LedgerAccount) -> tuple[int, int]:
    """(net amount funded, number of FUND entries) of a project budget account."""
    rows = LedgerEntry.objects.filter(kind=EntryKind.FUND).filter(
        Q(debit=budget) | Q(credit=budget)
    )
    totals = rows.aggregate(
        n=Count("pk"),
        into=Sum("amount_minor", filter=Q(debit=budget)),
        out=Sum("amount_minor", filter=Q(credit=budget)),
    )
    return (totals["into"] or 0) - (totals["out"] or 0), totals["n"]


def _fund_to(project_id: int, budget: LedgerAccount, *, target: int, actor=None) -> int:
    """Move ``funding -> budget`` (or back, for a negative difference) so the net funding equals
    ``target``. Precondition: the budget row is locked. Returns the amount moved in."""
    funded, entries = _funded(budget)
    delta = target - funded
    if delta == 0:
        return 0
    funding = account_for(kind=AccountKind.FUNDING, currency=budget.currency)
    debit, credit = (budget, funding) if delta > 0 else (funding, budget)
    # The sequence number makes the key permanent and unique per change of the budget; the row
    # lock makes it race-free, and a replay of the same change finds its entry.
    ledger_post(
        key=f"fund:{project_id}:{entries + 1}:{target}",
        kind=EntryKind.FUND,
        debit=debit,
        credit=credit,
        amount_minor=abs(delta),
        memo=f"budget set to {target}",
        actor=actor,
    )
    return delta


def budget_fund(*, project: Project, actor=None) -> int:
    """Bring the project's funding up to its authorised ``budget_minor`` (never down: a budget
    is lowered only by :func:`budget_set`). Idempotent; returns the amount added."""
    with transaction.atomic():
        budget = _budget(project)
        _lock(budget)
        target = Project.objects.filter(pk=project.pk).values_list("budget_minor", flat=True)[0]
        funded, _ = _funded(budget)
        if target <= funded:
            return 0
        return _fund_to(project.pk, budget, target=target, actor=actor)


def amount_parse(value, *, field: str = "budget_minor") -> int:
    """A whole, non-negative number of minor units from an int or a string of digits."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{field} must be a whole number of minor units (e.g. 2500 = 25.00)")
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.lstrip("-").isdigit():
            raise InvalidInput(f"{field} must be a whole number of minor units (e.g. 2500)")
        value = int(text)
    if value < 0:
        raise InvalidInput(f"{field} may not be negative")
    return value


def budget_set(*, project: Project, budget_minor, actor) -> BudgetSummary:
    """Set the project's authorised budget and fund (or unfund) the difference at once.

    Lowering is refused below what is already reserved for live leases or spent: label slots
    funded but not taken are unfunded first, and funded again as far as the new budget goes.
    """
    if not can_manage_project(actor, project):
        raise Forbidden("only the project's owner or an operator may set its budget")
    target = amount_parse(budget_minor)
    with transaction.atomic():
        budget, reserved = _claim_accounts(project)
        _lock(budget)
        slots_unfund_untaken(project, budget=budget, reserved=reserved)
        funded, _ = _funded(budget)
        available = balance(budget)
        committed = funded - available  # reserved for live leases, or spent
        if target < committed:
            raise Conflict(
                f"the budget cannot go below {committed}, already reserved or spent",
                details={"committed_minor": committed},
            )
        Project.objects.filter(pk=project.pk).update(budget_minor=target)
        _fund_to(project.pk, budget, target=target, actor=actor)
        slots_fund(project=project)
    logger.info("project %s budget set to %s by %s", project.pk, target, actor.pk)
    project.refresh_from_db(fields=["budget_minor"])
    return budget_summary(project=project)


def budget_summary(*, project: Project) -> BudgetSummary:
    """Funded = reserved + spent + available, all derived from the ledger."""
    budget, reserved = _budget(project), _reserved(project)
    spent = LedgerEntry.objects.filter(
        kind__in=[EntryKind.REWARD, EntryKind.BONUS], credit__in=[budget, reserved]
    ).aggregate(s=Sum("amount_minor"))["s"]
    return BudgetSummary(
        authorised_minor=project.budget_minor,
        funded_minor=_funded(budget)[0],
        reserved_minor=balance(reserved),
        spent_minor=spent or 0,
        available_minor=balance(budget),
        currency=project.currency,
    )


def unledgered_cost(project: Project) -> int:
    """What live or approved work from before budgets were kept in the ledger (no RESERVE or
    REWARD entry, no funded slot) will cost at today's reward: it counts against the budget
    wherever the balance is read exactly. Zero for work handed out since."""
    live = [AssignmentStatus.LEASED, AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED]
    ledgered = LedgerEntry.objects.filter(
        kind__in=[EntryKind.RESERVE, EntryKind.REWARD], assignment_id=OuterRef("pk")
    )
    n = Assignment.objects.filter(project=project, status__in=live, funded_minor__isnull=True)
    return n.filter(~Exists(ledgered)).count() * project.reward_minor


def budget_can_pay(project: Project) -> bool:
    """Whether the available budget (beyond work from before budgets) pays one more reward
    at today's rate: a lock-free read, for saying why nothing was handed out."""
    budget = _budget(project)
    available = balance(budget) + max(0, project.budget_minor - _funded(budget)[0])
    return available - unledgered_cost(project) >= project.reward_minor


def budget_accounts_locked(project: Project) -> tuple[LedgerAccount, LedgerAccount]:
    """The project's budget and reserved accounts, the budget locked (see ``_lock``) and
    funded up to the authorised ``budget_minor`` (the first time, or after it was raised on the
    project row). Precondition: inside a transaction."""
    budget, reserved = _claim_accounts(project)
    _lock_funded(project, budget)
    return budget, reserved


def _lock_funded(project: Project, budget: LedgerAccount) -> None:
    """Lock the budget account and fund it up to the ``budget_minor`` on the project row."""
    _lock(budget)
    target = Project.objects.filter(pk=project.pk).values_list("budget_minor", flat=True)[0]
    if _funded(budget)[0] < target:
        _fund_to(project.pk, budget, target=target)


def _claim_accounts(project: Project) -> tuple[LedgerAccount, LedgerAccount]:
    """The project's budget and reserved accounts in one query (created on first use)."""
    found = {
        a.kind: a
        for a in LedgerAccount.objects.filter(
            kind__in=[AccountKind.PROJECT_BUDGET, AccountKind.PROJECT_RESERVED],
            currency=project.currency,
            project=project,
            worker=None,
        )
    }
    budget = found.get(AccountKind.PROJECT_BUDGET) or _budget(project)
    reserved = found.get(AccountKind.PROJECT_RESERVED) or _reserved(project)
    return budget, reserved
