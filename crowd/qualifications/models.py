"""Qualifications: typed integer values held by workers and required by projects.

A requirement compares a worker's grant value with the project's value(s), as in MTurk's
QualificationRequirement: <, <=, >, >=, ==, != against one value; in / not-in against a list;
exists / not-exists on the grant itself.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class SystemQualification(models.TextChoices):
    """Qualifications Quorum computes from a worker's history rather than grants by hand."""

    NONE = "", "Not a system qualification"
    APPROVAL_RATE = "approval_rate", "Approval rate (percent)"
    APPROVED_COUNT = "approved_count", "Number of approved assignments"
    GOLD_ACCURACY = "gold_accuracy", "Gold accuracy (percent)"


class QualificationType(models.Model):
    """A kind of qualification. It may auto-grant, expire, or be earned by a test of gold items."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="qualification_types",
    )
    system = models.CharField(
        max_length=32, choices=SystemQualification.choices, default="", blank=True
    )
    auto_grant = models.BooleanField(default=False, help_text="Granted on first request")
    auto_grant_value = models.IntegerField(null=True, blank=True)
    grant_lifetime_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Grants expire after this long; empty means never"
    )
    test_project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="qualification_tests",
        help_text="Gold items of this project make up the qualification test",
    )
    test_size = models.PositiveSmallIntegerField(
        default=5,
        help_text="Gold items per test attempt (drawn from items the worker has not seen)",
    )
    retake_delay_seconds = models.PositiveIntegerField(default=24 * 3600)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(system__in=SystemQualification.values), name="qualtype_system_valid"
            ),
            models.CheckConstraint(
                condition=Q(auto_grant=False) | Q(auto_grant_value__isnull=False),
                name="qualtype_auto_grant_has_value",
            ),
            models.UniqueConstraint(
                fields=["system"], condition=~Q(system=""), name="qualtype_one_per_system"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class QualificationGrant(models.Model):
    """A worker's current value for one qualification type (one row per worker and type).

    Revocation keeps the row (``revoked_at``) so the audit trail and retake rules can see it.
    """

    qualification_type = models.ForeignKey(
        QualificationType, on_delete=models.CASCADE, related_name="grants"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qualification_grants"
    )
    value = models.IntegerField()
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["qualification_type", "worker"], name="qualgrant_one_per_worker_type"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("granted_at")),
                name="qualgrant_expires_after_grant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qualification_type} = {self.value} for {self.worker}"


class QualificationEventKind(models.TextChoices):
    GRANTED = "granted", "Granted"
    CHANGED = "changed", "Value changed"
    REVOKED = "revoked", "Revoked"
    TEST_SCORED = "test_scored", "Test scored"
    GATE_WARNED = "gate_warned", "Quality gate warning"


class QualificationEvent(models.Model):
    """Append-only audit trail of every grant, change and revocation, with who and why."""

    grant = models.ForeignKey(QualificationGrant, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=QualificationEventKind.choices)
    value = models.IntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The project whose quality gate or test caused this event, if any",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=QualificationEventKind.values), name="qualevent_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.grant}"


class Comparator(models.TextChoices):
    LT = "lt", "<"
    LTE = "lte", "<="
    GT = "gt", ">"
    GTE = "gte", ">="
    EQ = "eq", "=="
    NEQ = "neq", "!="
    EXISTS = "exists", "exists"
    NOT_EXISTS = "not_exists", "does not exist"
    IN = "in", "in"
    NOT_IN = "not_in", "not in"


SCALAR_COMPARATORS = ("lt", "lte", "gt", "gte", "eq", "neq")
LIST_COMPARATORS = ("in", "not_in")
PRESENCE_COMPARATORS = ("exists", "not_exists")


class QualificationRequirement(models.Model):
    """A project's condition on one qualification type.

    Scalar comparators use ``value``; in / not-in use the non-empty list ``values``;
    exists / not-exists use neither. The database holds the value/comparator pairing.
    """

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="requirements"
    )
    qualification_type = models.ForeignKey(
        QualificationType, on_delete=models.PROTECT, related_name="requirements"
    )
    comparator = models.CharField(max_length=16, choices=Comparator.choices)
    value = models.IntegerField(null=True, blank=True)
    values = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "qualification_type"], name="qualreq_one_per_project_type"
            ),
            models.CheckConstraint(
                condition=(
                    Q(comparator__in=SCALAR_COMPARATORS, value__isnull=False, values__isnull=True)
                    | Q(comparator__in=LIST_COMPARATORS, value__isnull=True, values__isnull=False)
                    | Q(
                        comparator__in=PRESENCE_COMPARATORS, value__isnull=True, values__isnull=True
                    )
                ),
                name="qualreq_operands_match_comparator",
            ),
        ]

    def __str__(self) -> str:
        operand = self.value if self.value is not None else self.values
        return f"{self.qualification_type} {self.get_comparator_display()} {operand or ''}".strip()


class QualificationTestAttempt(models.Model):
    """One worker's attempt at a qualification test: ``test_size`` gold items of the test
    project, claimed and submitted through the normal assignment flow, then scored."""

    qualification_type = models.ForeignKey(
        QualificationType, on_delete=models.CASCADE, related_name="test_attempts"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_attempts"
    )
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    item_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="Gold items of the test project chosen for this attempt, lowest id first",
    )
    assignments = models.ManyToManyField("assignment.Assignment", related_name="test_attempts")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["qualification_type", "worker"],
                condition=Q(completed_at__isnull=True),
                name="qualtest_one_open_attempt",
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True, score__isnull=True)
                | Q(completed_at__isnull=False, score__gte=0, score__lte=1),
                name="qualtest_completed_has_score",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker} on {self.qualification_type} test"
