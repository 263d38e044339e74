"""Celery tasks of the webhooks app: thin, idempotent wrappers over services."""

from celery import shared_task

from . import services


# max_retries=None: the bound is the row's attempt count (WEBHOOK_MAX_ATTEMPTS), which survives
# redelivery, worker restarts and sweeper re-queues; Celery's own counter does not.
@shared_task(name="workflows.webhook_deliver", bind=True, acks_late=True, max_retries=None)
def webhook_deliver_task(self, delivery_id: int) -> str:
    """One attempt; a duplicate or early message finds the row not claimable and does nothing."""
    outcome = services.webhook_deliver(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="workflows.webhook_retry_due", acks_late=True)
def webhook_retry_due_task() -> int:
    """Re-queue deliveries whose message was lost; safe to run twice (the claim guards)."""
    return services.webhook_retry_due()
