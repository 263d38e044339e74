"""Periodic pay tasks (bonus rules, scheduled payout closes): thin, idempotent wrappers.

Registered through ``CELERY_IMPORTS`` (``crowd/pay/tasks.py`` holds the approval tasks).
"""

from celery import shared_task

from . import bonuses, payouts


@shared_task(name="crowd.pay_bonus_rules_apply", acks_late=True)
def bonus_rules_apply_task() -> int:
    """Pay every active bonus rule for its last complete period; re-runs pay nothing new."""
    return bonuses.bonus_rules_apply_all()


@shared_task(name="crowd.pay_payout_batches_close", acks_late=True)
def payout_batches_close_task() -> list[int]:
    """Close one payout batch per currency with payable balances (serialised by row lock)."""
    return payouts.payout_batches_close_due()
