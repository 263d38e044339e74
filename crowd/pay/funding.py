"""Funded label slots: the budget holds each item's rewards before anyone claims them.

As a crowd marketplace charges a task's reward times its assignments when the task is posted,
a project's budget moves a slot's reward into ``project_reserved`` when the slot is *funded*,
and a claim takes only a funded slot: ``Item.slots_taken < Item.slots_funded``, both on the row
the claim locks anyway. The claim then writes nothing to the ledger and reads no balance, so
claims never meet on a per-project row (PERF-NOTES: no hot counter row on every claim).

A funded slot holds ``Item.slot_reward_minor``. A claim takes a slot only at the project's
current reward and copies it to ``Assignment.funded_minor``; approval pays that from the
reserve, and a slot freed again (expiry, return, block, rejection) is unfunded and its reward
released (:func:`crowd.pay.budget.budget_release`). So at every commit::

    balance(project_reserved) = sum over items of (slots_funded - slots_taken) x slot_reward
                              + sum over live or submitted assignments of funded_minor
                              + unreleased, unpaid per-lease reservations (gold, tests)

Funding runs under the budget account's lock, where the balance read is exact, and skips item
rows another transaction holds: an expiry or a rejection holds its item's row while it waits
for a key-share lock on the budget to release the reward, so waiting for that row under the
budget lock would deadlock. A skipped item is funded at the next round. It runs when a claim
finds no funded slot it may take (:func:`~crowd.assignment.services.assignment_claim_next`),
and every minute from beat, so that items added, raised in redundancy or repriced meanwhile do
not wait for the funded ones to run out. It funds open items in claim order (priority, then
nearest completion), as far as the budget goes, and first unfunds the untaken slots that hold
an old reward (the reward changed) or belong to a project that is over (completed, archived).
"""

import logging

from django.db import transaction
from django.db.models import F, Q

from workflows.projects.models import Item, ItemState, Project, ProjectStatus

from .ledger import balance, ledger_post
from .models import EntryKind, LedgerEntry

logger = logging.getLogger(__name__)

_OVER = (ProjectStatus.COMPLETED, ProjectStatus.ARCHIVED)
_CHUNK = 5000  # ids per UPDATE: SQLite caps a statement's parameters


_GAP = Q(state=ItemState.OPEN, is_gold=False, slots_funded__lt=F("labels_wanted"))
_UNTAKEN = Q(slots_funded__gt=F("slots_taken"))


def _untaken(project_id: int):
    return Item.objects.filter(_UNTAKEN, project_id=project_id)


def _gaps(project_id: int):
    """Open regular items with wanted slots still unfunded."""
    return Item.objects.filter(_GAP, project_id=project_id)


def _stale(project: Project):
    """Funded, untaken slots no claim may take: an old reward, or a project that is over."""
    untaken = _untaken(project.pk)
    if project.status in _OVER:
        return untaken
    return untaken.exclude(slot_reward_minor=project.reward_minor)


def _due_items():
    """Items of any project with funding work to do: gaps on an active project, stale slots
    (:func:`_stale`, with the project's fields read through the join)."""
    over = Q(project__status__in=_OVER)
    return Item.objects.filter(
        (_GAP & Q(project__status=ProjectStatus.ACTIVE))
        | (_UNTAKEN & (over | ~Q(slot_reward_minor=F("project__reward_minor"))))
    )


def slots_funding_due(project: Project) -> bool:
    """Whether :func:`slots_fund` has anything to do (lock-free, a hint)."""
    return _due_items().filter(project_id=project.pk).exists()


def _post_step(prefix: str, **entry) -> None:
    """Post a funding step's entry under a permanent key: ``prefix`` and the number of this
    budget's earlier steps of the same kind (the budget lock makes the sequence race-free, as
    for FUND entries)."""
    steps = LedgerEntry.objects.filter(
        kind=entry["kind"], debit=entry["debit"], credit=entry["credit"], assignment__isnull=True
    )
    ledger_post(key=f"{prefix}{steps.count() + 1}", **entry)


def _update(ids: list[int], **values) -> None:
    for start in range(0, len(ids), _CHUNK):
        Item.objects.filter(pk__in=ids[start : start + _CHUNK]).update(**values)


def _unfund(project: Project, rows, *, budget, reserved) -> int:
    """Unfund the untaken slots of ``rows`` (locked) and give their rewards back; returns how
    many slots."""
    locked = list(
        rows.select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
        .values_list("pk", "slots_funded", "slots_taken", "slot_reward_minor")
    )
    if not locked:
        return 0
    _update([pk for pk, *_ in locked], slots_funded=F("slots_taken"))
    slots = sum(funded - taken for _, funded, taken, _ in locked)
    amount = sum((funded - taken) * price for _, funded, taken, price in locked)
    if amount:
        _post_step(
            f"unfund:{project.pk}:",
            kind=EntryKind.RELEASE,
            debit=budget,
            credit=reserved,
            amount_minor=amount,
            memo=f"{slots} untaken label slots unfunded",
        )
    return slots


def _fund(project: Project, *, budget, reserved, available: int) -> int:
    """Fund open items' unfunded slots at the current reward, in claim order, as far as
    ``available`` goes; returns how many slots."""
    reward = project.reward_minor
    locked = list(
        _gaps(project.pk)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
        .values_list("pk", "priority", "labels_wanted", "slots_funded", "slots_taken")
    )
    if not locked:
        return 0
    # Claim order: highest priority first, then the items nearest completion.
    locked.sort(key=lambda r: (-r[1], r[2] - r[4], r[0]))
    affordable = None if reward == 0 else available // reward
    whole, part, slots = [], None, 0
    for pk, _, wanted, funded, _ in locked:
        gap = wanted - funded
        if affordable is not None and slots + gap > affordable:
            left = affordable - slots
            if left > 0:
                part, slots = (pk, funded + left), affordable
            break
        whole.append(pk)
        slots += gap
    _update(whole, slots_funded=F("labels_wanted"), slot_reward_minor=reward)
    if part is not None:
        _update([part[0]], slots_funded=part[1], slot_reward_minor=reward)
    if slots and reward:
        _post_step(
            f"slots:{project.pk}:",
            kind=EntryKind.RESERVE,
            debit=reserved,
            credit=budget,
            amount_minor=slots * reward,
            memo=f"{slots} label slots funded at {reward}",
        )
    return slots


def slots_fund(*, project: Project) -> int:
    """Reprice, unfund and fund the project's label slots (see the module docstring) in one
    transaction under the budget lock; returns the number of slots funded. Safe to repeat."""
    from .budget import budget_accounts_locked, unledgered_cost

    with transaction.atomic():
        budget, reserved = budget_accounts_locked(project)
        # Read under the lock: a reward or budget change committed before it counts.
        project = Project.objects.get(pk=project.pk)
        _unfund(project, _stale(project), budget=budget, reserved=reserved)
        if project.status in _OVER:
            return 0
        available = balance(budget) - unledgered_cost(project)
        funded = _fund(project, budget=budget, reserved=reserved, available=max(0, available))
    if funded:
        logger.info("project %s: %s label slots funded", project.pk, funded)
    return funded


def slots_unfund_untaken(project: Project, *, budget, reserved) -> int:
    """Unfund every untaken slot of the project (a budget being lowered re-funds what it can
    afterwards). Precondition: inside a transaction holding the budget lock."""
    return _unfund(project, _untaken(project.pk), budget=budget, reserved=reserved)


def slots_fund_all_due() -> int:
    """Beat: fund, reprice or unfund where due, project by project; returns slots funded."""
    due = _due_items().values_list("project_id", flat=True).distinct()
    return sum(slots_fund(project=p) for p in Project.objects.filter(pk__in=due).order_by("pk"))
