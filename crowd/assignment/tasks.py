"""Celery tasks of the assignment app: thin, idempotent wrappers over services."""

from celery import shared_task

from . import services


@shared_task(name="crowd.assignment_expire_overdue", acks_late=True)
def assignment_expire_overdue_task() -> int:
    """Expire overdue leases; safe to run twice or concurrently (conditional updates)."""
    return services.assignment_expire_overdue()
