"""Assignments (a worker's lease on one item) and blocks.

The database holds the invariants that concurrency could break: one assignment per worker and
item, at most one live lease per worker and project, one active block per worker and scope.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class AssignmentStatus(models.TextChoices):
    LEASED = "leased", "Leased"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    RETURNED = "returned", "Returned"


# Statuses that went through a submit: the annotation exists and submitted_at is set.
SUBMITTED_STATUSES = (
    AssignmentStatus.SUBMITTED,
    AssignmentStatus.APPROVED,
    AssignmentStatus.REJECTED,
)


class Assignment(models.Model):
    """One worker's lease on one item, and what became of it."""

    # No single-column indexes on project and worker: (project, status) and the unique
    # (worker, item) lead with them, and every claim writes each index of this table.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="assignments", db_index=False
    )
    item = models.ForeignKey("projects.Item", on_delete=models.PROTECT, related_name="assignments")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assignments",
        db_index=False,
    )
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.LEASED
    )
    leased_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    extensions = models.PositiveSmallIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # Indexed in Meta where set: every claim inserts a row without one.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    reject_reason = models.TextField(blank=True)
    gold_score = models.FloatField(
        null=True, blank=True, help_text="Agreement (0-1) of the answer with the gold answer"
    )
    flagged_for_review = models.BooleanField(
        default=False, help_text="Set by the quality gate: a person should look at this work"
    )
    # The reward its funded slot held when claimed (crowd.pay.funding), paid on approval and
    # released when the slot is freed. Null for a lease with its own RESERVE entry (gold,
    # tests) or none (work from before budgets).
    funded_minor = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "item"], name="assignment_one_per_worker_item"
            ),
            models.UniqueConstraint(
                fields=["worker", "project"],
                condition=Q(status=AssignmentStatus.LEASED),
                name="assignment_one_live_lease_per_worker_project",
            ),
            models.CheckConstraint(
                condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(lease_expires_at__gt=F("leased_at")),
                name="assignment_lease_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=SUBMITTED_STATUSES) | Q(submitted_at__isnull=False),
                name="assignment_submitted_has_time",
            ),
            models.CheckConstraint(
                condition=Q(gold_score__isnull=True) | Q(gold_score__gte=0, gold_score__lte=1),
                name="assignment_gold_score_unit",
            ),
            models.CheckConstraint(
                condition=~Q(status=AssignmentStatus.REJECTED) | ~Q(reject_reason=""),
                name="assignment_rejection_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["project", "status"]),
            models.Index(
                fields=["reviewed_by"],
                condition=Q(reviewed_by__isnull=False),
                name="assignment_reviewed_by",
            ),
        ]

    def __str__(self) -> str:
        return f"assignment {self.pk}: {self.worker} on item {self.item_id} ({self.status})"


class Block(models.Model):
    """A manager's block of a worker, on one project or (project empty) everywhere.

    Lifting a block keeps the row for the record; only one active block per scope.
    """

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks"
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="blocks"
    )
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="block_has_reason"),
            models.UniqueConstraint(
                fields=["worker", "project"],
                condition=Q(lifted_at__isnull=True, project__isnull=False),
                name="block_one_active_per_project",
            ),
            models.UniqueConstraint(
                fields=["worker"],
                condition=Q(lifted_at__isnull=True, project__isnull=True),
                name="block_one_active_global",
            ),
        ]

    def __str__(self) -> str:
        scope = self.project or "all projects"
        return f"block of {self.worker} on {scope}"
