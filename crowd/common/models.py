"""The follow-up outbox: Celery work that a transaction asks for, stored by that transaction."""

from django.db import models
from django.utils import timezone


class FollowUp(models.Model):
    """One task message still to send. The row commits or rolls back with the work that asked
    for it; it is deleted once the broker has taken the message (crowd/common/followups.py)."""

    task = models.CharField(max_length=200)  # the Celery task's registered name
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"
