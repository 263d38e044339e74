"""Celery tasks of pay: review, budgets, bonus rules and payout closes. Thin wrappers over
services, idempotent and safe to run twice (status guards, ledger keys, row locks)."""

from celery import shared_task

from . import auto_review, bonuses, funding, ledger, payouts


@shared_task(name="crowd.pay_auto_approve_due", acks_late=True)
def assignments_auto_approve_due_task() -> int:
    """Approve work past its project's delay; replays are harmless (status guard, ledger key)."""
    return auto_review.assignments_auto_approve_due()


@shared_task(name="crowd.pay_auto_review_for_item", acks_late=True)
def assignments_auto_review_for_item_task(item_id: int) -> list[int]:
    """Review an item's answers by agreement with its trusted answer; idempotent."""
    return auto_review.assignments_auto_review_for_item(item_id=item_id).changed


@shared_task(name="crowd.pay_balances_checkpoint", acks_late=True)
def balances_checkpoint_task() -> int:
    """Checkpoint busy accounts' balances so that reading one stays cheap; safe to repeat."""
    return ledger.balances_checkpoint()


@shared_task(name="crowd.pay_slots_fund", acks_late=True)
def slots_fund_task() -> int:
    """Fund the label slots of items added or raised in redundancy, reprice them after a
    reward change, unfund them on projects that are over; safe to repeat (under the lock)."""
    return funding.slots_fund_all_due()


@shared_task(name="crowd.pay_bonus_rules_apply", acks_late=True)
def bonus_rules_apply_task() -> int:
    """Pay every active bonus rule for its last complete period; re-runs pay nothing new."""
    return bonuses.bonus_rules_apply_all()


@shared_task(name="crowd.pay_payout_batches_close", acks_late=True)
def payout_batches_close_task() -> list[int]:
    """Close one payout batch per currency with payable balances (serialised by row lock)."""
    return payouts.payout_batches_close_due()
