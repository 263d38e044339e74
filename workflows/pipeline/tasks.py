"""Celery tasks of the pipeline: thin and idempotent (results are keyed by their inputs, leases
end only from LEASED)."""

from celery import shared_task
from django.db import OperationalError

from crowd.common.followups import follow_up
from workflows.golden.services import consensus_items_stale

from . import consensus, leases
from .names import CONSENSUS_TASK


@shared_task(
    name=CONSENSUS_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def consensus_run_for_item_task(item_id: int) -> int | None:
    result = consensus.consensus_run_for_item(item_id=item_id)
    return result.pk if result else None


@shared_task(name="workflows.consensus_sweep", acks_late=True)
def consensus_sweep_task() -> int:
    """Re-queue consensus for items whose job seems lost after the broker took it (a crashed
    worker, a broker that lost its queue); harmless when it was not."""
    stale = consensus_items_stale()
    for item_id in stale:
        follow_up(CONSENSUS_TASK, item_id)
    return len(stale)


@shared_task(name="crowd.assignment_expire_overdue", acks_late=True)
def assignment_expire_overdue_task() -> int:
    """Expire overdue leases; safe to run twice or concurrently (conditional updates)."""
    return leases.assignment_expire_overdue()
