"""Celery tasks of review and budgets: thin wrappers over services, safe to run twice."""

from celery import shared_task

from . import funding, ledger, review


@shared_task(name="crowd.pay_auto_approve_due", acks_late=True)
def assignments_auto_approve_due_task() -> int:
    """Approve work past its project's delay; replays are harmless (status guard, ledger key)."""
    return review.assignments_auto_approve_due()


@shared_task(name="crowd.pay_auto_review_for_item", acks_late=True)
def assignments_auto_review_for_item_task(item_id: int) -> list[int]:
    """Review an item's answers by agreement with its trusted answer; idempotent."""
    return review.assignments_auto_review_for_item(item_id=item_id).changed


@shared_task(name="crowd.pay_balances_checkpoint", acks_late=True)
def balances_checkpoint_task() -> int:
    """Checkpoint busy accounts' balances so that reading one stays cheap; safe to repeat."""
    return ledger.balances_checkpoint()


@shared_task(name="crowd.pay_slots_fund", acks_late=True)
def slots_fund_task() -> int:
    """Fund the label slots of items added or raised in redundancy, reprice them after a
    reward change, unfund them on projects that are over; safe to repeat (under the lock)."""
    return funding.slots_fund_all_due()
