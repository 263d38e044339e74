"""Celery tasks of the follow-up outbox: thin and safe to repeat."""

from celery import shared_task

from . import followups


@shared_task(name="crowd.followups_send_due", acks_late=True)
def followups_send_due_task() -> int:
    """Send follow-ups that their transaction's commit hook could not (broker outage)."""
    return followups.followups_send_due()
