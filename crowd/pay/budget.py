"""Project budgets in the ledger: funding, reservations, release, and the reward.

Money flows ``funding -> project_budget`` (FUND, up to ``Project.budget_minor``), then into
``project_reserved`` (RESERVE) before any work is handed out, and either back (RELEASE) or on to
the worker (REWARD ``reward:<assignment>``) when the work is approved. So "available" is the
balance of ``project_budget`` and no lease is handed out that the budget cannot pay.

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
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum

from crowd.accounts.access import can_manage_project
from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NothingForYou
from workflows.projects.models import Project

from .funding import slots_fund, slots_unfund_untaken
from .ledger import account_for, accounts_key_share, balance, ledger_post
from .models import AccountKind, EntryKind, LedgerAccount, LedgerEntry
from .rewards import assignment_reward_due

logger = logging.getLogger(__name__)


def concurrent_claims() -> int:
    """C above: at least the number of database connections that may claim at once (the sum of
    every process's pool, or PostgreSQL's max_connections, default 100)."""
    return max(1, int(getattr(settings, "QUORUM_BUDGET_CONCURRENT_CLAIMS", 100)))


class BudgetTight(Exception):
    """Internal: the fast path found the budget near its end; retry on the locked path."""


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
    """Precondition: inside a transaction. Waits for open reservations; see the module doc."""
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


# -- leases ----------------------------------------------------------------------------------


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
    """The project's budget and reserved accounts, the budget locked (see the module doc) and
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


# Budget account id -> the available balance a gold or test claim of this process read last:
# the hint of the module docstring. Per process, unlocked: a lost or stale entry is harmless.
_last_seen_available: dict[int, int] = {}


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
