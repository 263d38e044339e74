"""What one piece of work holds of its project's budget: reserved before it is handed out,
released when it ends unpaid, paid as its reward when approved.

Two kinds of reservation:

* Regular items: their label slots are funded ahead of the claims
  (:mod:`crowd.pay.funding`, one RESERVE per funding step), and a claim takes a funded slot,
  recording its reward in ``Assignment.funded_minor``. Freeing the slot again releases that
  reward (RELEASE ``release:<assignment>``).
* Gold and qualification-test items, which any number of workers answer and so have no slots:
  a RESERVE entry per lease (``reserve:<assignment>``), written by :func:`budget_claim` in the
  claim's transaction, and released by the same key scheme.

Concurrency (PostgreSQL) of :func:`budget_claim`. A claim must not serialise on a per-project
row while the budget is plentiful, so there are two paths:

* Fast path: the claim inserts its RESERVE entry, then reads the available balance, and keeps
  the lease only if at least ``(C - 1) * reward`` is still available, where C
  (``QUORUM_BUDGET_CONCURRENT_CLAIMS``) bounds the claim transactions open at once. Proof: take
  the reserving transaction whose balance read came last. Every other reservation either had
  committed before that read (and was counted) or was open at that moment (at most C - 1 of
  them, each one reward), so the final balance is at least 0.
* Locked path, when the balance is within C rewards of the end: the claim first locks the
  project's budget account row ``FOR UPDATE``. That waits for every open reservation (each
  holds a key-share lock on the row through its ledger entry's foreign key) and keeps new ones
  out until commit, so the balance it reads is exact. Bonuses and slot funding take the same
  lock.

Whoever holds the budget lock never waits for an item row: claims take items with SKIP
LOCKED, and slot funding skips rows another transaction holds. So expiries and rejections,
which hold an item's row and then key-share the budget to release its reward, cannot deadlock
with it. A reward of 0 needs no ledger work at all.

Which path to try first is a hint only (the decision that counts is the read inside the
transaction): the balance a claim of this process read last, or a lock-free read when there is
none yet. A stale hint costs at most one fast attempt rolled back (BudgetTight), or one claim
taking the lock it did not need; it never lets a lease through that the budget cannot pay.

Release and reward run inside the caller's transaction, the one that moves the assignment out
of LEASED or SUBMITTED; their ledger keys (``release:<id>``, ``reward:<id>``) make a replay
write nothing.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from crowd.assignment.models import Assignment
from crowd.common.exceptions import Conflict, NothingForYou
from workflows.projects.models import Project

from ..ledger import accounts_key_share, balance, ledger_post
from ..models import EntryKind, LedgerAccount, LedgerEntry
from ..rewards import assignment_reward_due
from .funds import (
    _budget,
    _claim_accounts,
    _fund_to,
    _funded,
    _lock,
    _lock_funded,
    _payable,
    _reserved,
    unledgered_cost,
)

logger = logging.getLogger(__name__)


def concurrent_claims() -> int:
    """C above: at least the number of database connections that may claim at once (the sum of
    every process's pool, or PostgreSQL's max_connections, default 100)."""
    return max(1, int(getattr(settings, "QUORUM_BUDGET_CONCURRENT_CLAIMS", 100)))


class BudgetTight(Exception):
    """Internal: the fast path found the budget near its end; retry on the locked path."""


# Budget account id -> the available balance a gold or test claim of this process read last:
# the hint of the module docstring. Per process, unlocked: a lost or stale entry is harmless.
_last_seen_available: dict[int, int] = {}


def _reserve(*, assignment, reward: int, budget: LedgerAccount, reserved: LedgerAccount):
    """The RESERVE entry of an assignment created in this very transaction.

    What :func:`~crowd.pay.ledger.ledger_post` records, without its savepoint (two round
    trips): the key ``reserve:<id>`` of a new assignment cannot exist yet, and should it
    ever, the IntegrityError rolls the whole claim back, which the claim service retries.
    """
    accounts_key_share(budget.pk, reserved.pk)
    return LedgerEntry.objects.create(
        idempotency_key=f"reserve:{assignment.pk}",
        kind=EntryKind.RESERVE,
        debit=reserved,
        credit=budget,
        amount_minor=reward,
        assignment=assignment,
    )


def budget_claim(*, project: Project, claim: Callable):
    """Run ``claim()`` (which creates at most one assignment of an item without slots, gold or
    test, and returns it, or None) in one transaction with the reservation of its reward; raise
    NothingForYou("budget_spent") when the budget cannot pay one more. See the module docstring
    for the two paths.

    ``claim()`` always runs inside a transaction opened here (with a reward of 0 too), which
    rolls back whole if it raises: it need not open one of its own.
    """
    reward = project.reward_minor
    if reward == 0:
        with transaction.atomic():
            return claim()
    budget, reserved = _claim_accounts(project)
    margin = (concurrent_claims() - 1) * reward
    hint = _last_seen_available.get(budget.pk)
    locked = (balance(budget) if hint is None else hint) < margin + reward
    while True:
        try:
            with transaction.atomic():
                if locked:
                    _lock_funded(project, budget)
                    available = balance(budget)
                    _last_seen_available[budget.pk] = available
                    if available - unledgered_cost(project) < reward:
                        raise NothingForYou("budget_spent", "the project's budget is spent")
                assignment = claim()
                if assignment is None:
                    return None
                _reserve(assignment=assignment, reward=reward, budget=budget, reserved=reserved)
                if not locked:
                    available = balance(budget)  # the read the proof is about
                    _last_seen_available[budget.pk] = available
                    if available < margin:
                        raise BudgetTight
                return assignment
        except BudgetTight:
            locked = True


def budget_release(*, assignment_ids: list[int]) -> int:
    """Give the reservations of ended leases (expired, returned) or rejected work back to the
    budget: a funded slot's reward, or a lease's RESERVE entry. Idempotent by key
    (``release:<id>``); an assignment without a reservation, or already paid, is skipped.

    Precondition: inside the transaction that moved those assignments out of LEASED/SUBMITTED.
    """
    if not assignment_ids:
        return 0
    settled = LedgerEntry.objects.filter(
        kind__in=[EntryKind.REWARD, EntryKind.RELEASE], assignment_id__in=assignment_ids
    ).values("assignment_id")
    reservations = {
        e.assignment_id: (e.credit, e.debit, e.amount_minor)
        for e in LedgerEntry.objects.filter(
            kind=EntryKind.RESERVE, assignment_id__in=assignment_ids
        ).select_related("debit", "credit")
    }
    funded = (
        Assignment.objects.filter(pk__in=assignment_ids, funded_minor__gt=0)
        .exclude(pk__in=reservations)
        .select_related("project")
    )
    accounts: dict[int, tuple[LedgerAccount, LedgerAccount]] = {}  # per project, not per lease
    for a in funded:
        if a.project_id not in accounts:
            accounts[a.project_id] = _claim_accounts(a.project)
        reservations[a.pk] = (*accounts[a.project_id], a.funded_minor)
    unsettled = set(reservations) - set(settled.values_list("assignment_id", flat=True))
    assignments = Assignment.objects.in_bulk(sorted(unsettled))
    for assignment_id in sorted(unsettled):
        budget, reserved, amount = reservations[assignment_id]
        ledger_post(
            key=f"release:{assignment_id}",
            kind=EntryKind.RELEASE,
            debit=budget,  # back to the budget it came from
            credit=reserved,
            amount_minor=amount,
            assignment=assignments[assignment_id],
        )
    return len(unsettled)


def budget_reward(*, assignment, actor=None) -> LedgerEntry | None:
    """Pay the approved assignment its reward (:func:`~crowd.pay.rewards.reward_due`: what
    was held for it when it was handed out), exactly once (key ``reward:<id>``).

    From its live reservation when it has one; otherwise (a reversed rejection whose
    reservation was released, or work leased before budgets existed) straight from the
    available budget under the budget lock, refusing with Conflict when it cannot pay.
    Precondition: inside the approving transaction.
    """
    key = f"reward:{assignment.pk}"
    existing = LedgerEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    project = assignment.project
    entries = {
        e.kind: e
        for e in LedgerEntry.objects.filter(
            assignment=assignment, kind__in=[EntryKind.RESERVE, EntryKind.RELEASE]
        )
    }
    amount = assignment_reward_due(assignment)  # the one rule; earnings shows the same
    reservation = entries.get(EntryKind.RESERVE)
    if reservation is not None:
        reserved = reservation.debit
    elif assignment.funded_minor is not None:
        reserved = _reserved(project)
    else:
        reserved = None
    if amount == 0:
        return None
    payable = _payable(project, assignment.worker)
    movement = {"key": key, "kind": EntryKind.REWARD, "debit": payable, "amount_minor": amount}
    if reserved is not None and EntryKind.RELEASE not in entries:
        return ledger_post(credit=reserved, assignment=assignment, actor=actor, **movement)
    budget = _budget(project)
    _lock(budget)
    existing = LedgerEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:  # a concurrent twin committed while we waited for the lock
        return existing
    available = balance(budget)
    if available < amount:
        _fund_to(project.pk, budget, target=max(project.budget_minor, _funded(budget)[0]))
        available = balance(budget)
    if available < amount:
        raise Conflict(
            f"the project's available budget ({available}) cannot pay assignment "
            f"{assignment.pk} ({amount}); raise the budget first",
            details={"assignment": assignment.pk, "available_minor": available},
        )
    return ledger_post(credit=budget, assignment=assignment, actor=actor, **movement)
