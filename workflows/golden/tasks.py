"""Celery tasks of the golden pipeline: thin and idempotent (results are keyed by inputs)."""

from celery import shared_task
from django.db import OperationalError

from . import services


@shared_task(
    name="workflows.consensus_run_for_item",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def consensus_run_for_item_task(item_id: int) -> int | None:
    result = services.consensus_run_for_item(item_id=item_id)
    return result.pk if result else None


@shared_task(name="workflows.consensus_sweep", acks_late=True)
def consensus_sweep_task() -> int:
    """Re-queue consensus for items whose job message was lost; harmless when it was not."""
    stale = services.consensus_items_stale()
    for item_id in stale:
        consensus_run_for_item_task.delay(item_id)
    return len(stale)
