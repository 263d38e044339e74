"""Ledger set-up for pay tests: funding, and rewards posted directly (not through approval)."""

import itertools

from django.utils import timezone

from crowd.pay.ledger import account_for, balance, ledger_post
from crowd.pay.models import AccountKind, EntryKind
from tests import factories

_n = itertools.count(1)


def fund(project, amount_minor: int):
    """Money in from outside to the project's available budget."""
    return ledger_post(
        key=f"test-fund:{project.pk}:{next(_n)}",
        kind=EntryKind.FUND,
        debit=account_for(
            kind=AccountKind.PROJECT_BUDGET, currency=project.currency, project=project
        ),
        credit=account_for(kind=AccountKind.FUNDING, currency=project.currency),
        amount_minor=amount_minor,
    )


def reward(assignment, amount_minor: int | None = None):
    """Reserve, then pay the reward of an approved assignment (key "reward:<id>", as approval)."""
    project = assignment.project
    amount_minor = amount_minor or project.reward_minor
    budget = account_for(
        kind=AccountKind.PROJECT_BUDGET, currency=project.currency, project=project
    )
    reserved = account_for(
        kind=AccountKind.PROJECT_RESERVED, currency=project.currency, project=project
    )
    ledger_post(
        key=f"test-reserve:{assignment.pk}",
        kind=EntryKind.RESERVE,
        debit=reserved,
        credit=budget,
        amount_minor=amount_minor,
        assignment=assignment,
    )
    return ledger_post(
        key=f"reward:{assignment.pk}",
        kind=EntryKind.REWARD,
        debit=account_for(
            kind=AccountKind.WORKER_PAYABLE, currency=project.currency, worker=assignment.worker
        ),
        credit=reserved,
        amount_minor=amount_minor,
        assignment=assignment,
    )


def work(project, worker, *, status: str = "approved", minutes: float = 10, paid: bool = True, **f):
    """One assignment of ``worker`` leased ``minutes`` before its submit; approved work is paid."""
    submitted = f.pop("submitted_at", timezone.now())
    leased = submitted - timezone.timedelta(minutes=minutes)
    assignment = factories.make_assignment(
        item=factories.make_item(project=project),
        worker=worker,
        status=status,
        leased_at=leased,
        lease_expires_at=leased + timezone.timedelta(hours=1),
        submitted_at=submitted,
        **f,
    )
    if status == "approved" and paid:
        reward(assignment)
    return assignment


def payable(worker, currency: str = "USD") -> int:
    return balance(account_for(kind=AccountKind.WORKER_PAYABLE, currency=currency, worker=worker))


def budget(project) -> int:
    return balance(
        account_for(kind=AccountKind.PROJECT_BUDGET, currency=project.currency, project=project)
    )
