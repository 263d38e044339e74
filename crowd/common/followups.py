"""Follow-up work that survives a broker outage: the transactional outbox.

``follow_up(task, *args)`` stores a FollowUp row in the caller's transaction and sends the task
message once that transaction commits. If the broker is down, the send is logged and the row
stays; ``followups_send_due`` (beat, every few seconds) sends rows the commit hook could not.
The work and its follow-up are therefore committed together or not at all, and a committed
request never fails because the broker did. Delivery is at least once: every task named here
must be idempotent.

Tasks are named, not imported, so that a service never imports another app's task module:
``task_send`` looks the name up among the registered tasks.
"""

import functools
import logging
from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from .models import FollowUp

logger = logging.getLogger(__name__)

# The commit hook normally sends within milliseconds; the sweep leaves younger rows to it.
SWEEP_GRACE = timedelta(seconds=5)
SWEEP_BATCH = 500


@functools.cache
def _registered_tasks():
    # What a worker does at start: import every app's tasks module (autodiscovery).
    current_app.loader.import_default_modules()
    return current_app.tasks


def task_by_name(name: str):
    try:
        return _registered_tasks()[name]
    except KeyError:
        raise LookupError(f"no Celery task is registered as {name!r}") from None


def task_send(name: str, *args) -> None:
    """Send the task now; raises ``BrokerError`` when the broker does not take the message.

    Eager mode (no broker configured) runs it in-process instead.
    """
    task_by_name(name).apply_async(args=args, retry=False)


def follow_up(name: str, *args) -> FollowUp:
    """Record ``name(*args)`` in the caller's transaction; send it when that commits."""
    task_by_name(name)  # a misspelt name fails the caller, not a later sweep
    row = FollowUp.objects.create(task=name, args=list(args))
    transaction.on_commit(functools.partial(_send, row.pk, name, list(args)))
    return row


def _send(row_id: int, name: str, args: list) -> bool:
    try:
        task_send(name, *args)
    except (BrokerError, OSError) as error:
        FollowUp.objects.filter(pk=row_id).update(last_error=str(error)[:500])
        logger.warning("follow-up %s%s kept for the sweep: %s", name, tuple(args), error)
        return False
    FollowUp.objects.filter(pk=row_id).delete()
    return True


def followups_send_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Send follow-ups whose commit hook did not (broker down, process killed); the number sent.

    Rows are locked and skipped when locked, so two sweeps never send the same row at once.
    """
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(created_at__lte=now - SWEEP_GRACE)
            .order_by("pk")[:limit]
        )
        for row in due:
            row.attempts += 1
            try:
                task_send(row.task, *row.args)
            except (BrokerError, OSError) as error:
                FollowUp.objects.filter(pk=row.pk).update(
                    attempts=row.attempts, last_error=str(error)[:500]
                )
                logger.warning("follow-ups wait for the broker: %s", error)
                break  # the broker is down: the rest would fail the same way
            row.delete()
            sent += 1
    return sent
