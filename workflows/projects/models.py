"""Projects and what they label: label schemas with categories, datasets and items."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class AnnotationKind(models.TextChoices):
    CLASSIFICATION = "classification", "Image classification"
    BBOX = "bbox", "Bounding boxes"
    POLYGON = "polygon", "Polygons"
    MASK = "mask", "Masks (COCO RLE)"
    KEYPOINTS = "keypoints", "Keypoints"


class LabelSchema(models.Model):
    """What a worker may draw: one annotation kind and its categories."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=AnnotationKind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="label_schemas"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AnnotationKind.values), name="labelschema_kind_valid"
            ),
            models.UniqueConstraint(fields=["owner", "name"], name="labelschema_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Category(models.Model):
    """A label class. Keypoint schemas also name their points and skeleton (COCO style)."""

    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)
    color = models.CharField(max_length=7, default="#e6194b")
    keypoint_names = models.JSONField(default=list, blank=True)
    skeleton = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["schema", "name"], name="category_unique_name"),
            models.CheckConstraint(
                condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"),
                name="category_color_hex",
                violation_error_message="color must be a hex colour such as #e6194b",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    ARCHIVED = "archived", "Archived"


class GateAction(models.TextChoices):
    WARN = "warn", "Warn (audit trail only)"
    REVOKE = "revoke", "Revoke the project's required qualifications"
    BLOCK = "block", "Block the worker on this project"


class Project(models.Model):
    """A labelling job: what to label, how often, for how much, and when a label is trusted.

    Money is in integer minor units of ``currency`` (cents for USD), never floats.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    instructions = models.TextField(blank=True, help_text="Shown to workers; Markdown.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_projects"
    )
    label_schema = models.ForeignKey(LabelSchema, on_delete=models.PROTECT, related_name="projects")
    status = models.CharField(
        max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT
    )
    min_redundancy = models.PositiveSmallIntegerField(default=2)
    max_redundancy = models.PositiveSmallIntegerField(default=5)
    reward_minor = models.PositiveIntegerField(default=0, help_text="Pay per approved assignment")
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217")
    budget_minor = models.PositiveBigIntegerField(default=0)
    lease_seconds = models.PositiveIntegerField(default=15 * 60)
    max_lease_extensions = models.PositiveSmallIntegerField(default=2)
    auto_approve_seconds = models.PositiveIntegerField(
        default=3 * 24 * 3600, help_text="Submitted work is approved after this delay"
    )
    accept_agreement = models.FloatField(
        default=0.8, help_text="Agreement (0-1) at which an item's consensus is promoted"
    )
    accept_relaxed = models.FloatField(
        null=True,
        blank=True,
        default=0.65,
        help_text="A lower bar from accept_relaxed_from labels on (empty: never relax)",
    )
    accept_relaxed_from = models.PositiveSmallIntegerField(default=4)
    iou_threshold = models.FloatField(default=0.5, help_text="IoU for matching shapes")
    quorum = models.FloatField(
        default=0.5, help_text="Share of annotators that must agree for an object to exist"
    )
    gold_rate = models.FloatField(default=0.0, help_text="Share of handed-out items that are gold")
    gold_pass_score = models.FloatField(
        default=0.7, help_text="A gold answer scoring at least this (0-1) counts as correct"
    )
    gate_min_gold_accuracy = models.FloatField(
        default=0.0,
        help_text="Quality gate: act when a worker's gold accuracy is surely below this (0 = off)",
    )
    gate_window = models.PositiveSmallIntegerField(
        default=20, help_text="Quality gate: judge the worker's last N gold answers"
    )
    gate_action = models.CharField(
        max_length=8, choices=GateAction.choices, default=GateAction.WARN
    )
    reversal_seconds = models.PositiveIntegerField(
        default=7 * 24 * 3600, help_text="A rejection can be reversed (and paid) within this time"
    )
    auto_approve_min_agreement = models.FloatField(
        null=True,
        blank=True,
        help_text="Approve an answer whose agreement (0-1) with consensus or gold reaches this",
    )
    auto_reject_max_agreement = models.FloatField(
        null=True,
        blank=True,
        help_text="Reject an answer whose agreement (0-1) with consensus or gold is below this",
    )
    deadline = models.DateTimeField(null=True, blank=True)
    auditors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="audited_projects"
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="reviewed_projects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProjectStatus.values), name="project_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(min_redundancy__gte=1),
                name="project_min_red_gte_1",
                violation_error_message="min_redundancy must be at least 1",
            ),
            models.CheckConstraint(
                condition=Q(max_redundancy__gte=F("min_redundancy")),
                name="project_max_red_gte_min",
                violation_error_message="max_redundancy must be at least min_redundancy",
            ),
            models.CheckConstraint(
                condition=Q(max_redundancy__lte=50),
                name="project_max_red_lte_50",
                violation_error_message="max_redundancy may be at most 50",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"),
                name="project_currency_iso4217",
                violation_error_message="currency must be a three-letter ISO 4217 code such as USD",
            ),
            models.CheckConstraint(
                condition=Q(lease_seconds__gte=30, lease_seconds__lte=7 * 24 * 3600),
                name="project_lease_bounds",
                violation_error_message="lease_seconds must be between 30 seconds and 7 days",
            ),
            models.CheckConstraint(
                condition=Q(accept_agreement__gte=0, accept_agreement__lte=1),
                name="project_accept_agreement_unit",
                violation_error_message="accept_agreement must be between 0 and 1",
            ),
            models.CheckConstraint(
                condition=Q(accept_relaxed__isnull=True)
                | Q(accept_relaxed__gte=0, accept_relaxed__lte=1),
                name="project_accept_relaxed_unit",
                violation_error_message="accept_relaxed must be between 0 and 1",
            ),
            models.CheckConstraint(
                condition=Q(iou_threshold__gt=0, iou_threshold__lte=1),
                name="project_iou_threshold_unit",
                violation_error_message="iou_threshold must be above 0 and at most 1",
            ),
            models.CheckConstraint(
                condition=Q(quorum__gt=0, quorum__lte=1),
                name="project_quorum_unit",
                violation_error_message="quorum must be above 0 and at most 1",
            ),
            models.CheckConstraint(
                condition=Q(gold_pass_score__gte=0, gold_pass_score__lte=1)
                & Q(gate_min_gold_accuracy__gte=0, gate_min_gold_accuracy__lte=1),
                name="project_gold_scores_unit",
                violation_error_message="gold_pass_score and gate_min_gold_accuracy lie in [0, 1]",
            ),
            models.CheckConstraint(
                condition=Q(gate_window__gte=1),
                name="project_gate_window_positive",
                violation_error_message="gate_window must be at least 1",
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0, gold_rate__lt=1),
                name="project_gold_rate_unit",
                violation_error_message="gold_rate must be at least 0 and below 1",
            ),
            models.CheckConstraint(
                condition=(
                    Q(auto_approve_min_agreement__isnull=True)
                    | Q(auto_approve_min_agreement__gte=0, auto_approve_min_agreement__lte=1)
                )
                & (
                    Q(auto_reject_max_agreement__isnull=True)
                    | Q(auto_reject_max_agreement__gte=0, auto_reject_max_agreement__lte=1)
                ),
                name="project_auto_review_unit",
                violation_error_message="auto-review thresholds lie between 0 and 1",
            ),
            models.CheckConstraint(
                condition=Q(auto_approve_min_agreement__isnull=True)
                | Q(auto_reject_max_agreement__isnull=True)
                | Q(auto_reject_max_agreement__lte=F("auto_approve_min_agreement")),
                name="project_auto_review_order",
                violation_error_message=(
                    "auto_reject_max_agreement may not exceed auto_approve_min_agreement"
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def accept_schedule(self) -> dict[int, float]:
        """The promotion bar by number of labels (see workflows.consensus.decision)."""
        schedule = {self.min_redundancy: self.accept_agreement}
        if self.accept_relaxed is not None and self.accept_relaxed_from > self.min_redundancy:
            schedule[self.accept_relaxed_from] = self.accept_relaxed
        return schedule


class Dataset(models.Model):
    """A named batch of images loaded into a project (one upload, one folder, one zip)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="dataset_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ItemState(models.TextChoices):
    OPEN = "open", "Needs labels"
    CONSENSUS = "consensus", "Enough labels, consensus pending"
    PROMOTED = "promoted", "Promoted to the golden set"
    ESCALATED = "escalated", "Waiting for expert review"
    REJECTED = "rejected", "Rejected by a reviewer"


class Item(models.Model):
    """One image to annotate.

    ``slots_taken`` counts submitted labels plus live leases. ``slots_funded`` counts the slots
    whose reward the project's budget holds for this item, each at ``slot_reward_minor``
    (:mod:`crowd.pay.funding`): a claim takes only a funded slot at the project's current reward,
    so ``slots_taken <= slots_funded <= labels_wanted`` (the database holds this). The counters
    move only through services with F() expressions.
    Gold items carry their known answer; the answer never leaves the manager/auditor APIs.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    # Indexed by the unique (dataset, content_hash) in Meta: every claim's update writes each
    # index of this table, so none is kept twice.
    dataset = models.ForeignKey(
        Dataset, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    image = models.ImageField(upload_to="items/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the image bytes")
    is_gold = models.BooleanField(default=False)
    gold_answer = models.JSONField(null=True, blank=True)
    priority = models.SmallIntegerField(default=0, help_text="Higher is handed out first")
    state = models.CharField(max_length=16, choices=ItemState.choices, default=ItemState.OPEN)
    labels_wanted = models.PositiveSmallIntegerField(default=1)
    slots_taken = models.PositiveSmallIntegerField(default=0)
    slots_funded = models.PositiveSmallIntegerField(default=0)
    slot_reward_minor = models.PositiveIntegerField(
        default=0, help_text="The reward each funded, untaken slot holds"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=ItemState.values), name="item_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(width__gt=0, height__gt=0), name="item_size_positive"
            ),
            models.CheckConstraint(
                condition=Q(slots_taken__lte=F("slots_funded")), name="item_slots_taken_funded"
            ),
            models.CheckConstraint(
                condition=Q(slots_funded__lte=F("labels_wanted")),
                name="item_slots_funded_within_wanted",
            ),
            models.CheckConstraint(
                condition=Q(is_gold=True, gold_answer__isnull=False)
                | Q(is_gold=False, gold_answer__isnull=True),
                name="item_gold_has_answer",
                violation_error_message="a gold item needs its answer, and only gold items have one",
            ),
            models.CheckConstraint(
                condition=Q(content_hash__regex=r"^[0-9a-f]{64}$"), name="item_hash_sha256"
            ),
            models.UniqueConstraint(
                fields=["dataset", "content_hash"], name="item_unique_image_per_dataset"
            ),
        ]
        indexes = [
            # The claim queue: claimable items of a project (open, not gold, a funded slot free),
            # highest priority first, then the items nearest completion, so items finish
            # rather than sit half-done. A full item leaves the index: otherwise every item
            # whose last slots are leased sits at the head of the queue (0 slots left) and
            # every claim steps over all of them.
            models.Index(
                F("project"),
                F("priority").desc(),
                F("labels_wanted") - F("slots_taken"),
                F("id"),
                condition=Q(state="open", is_gold=False, slots_taken__lt=F("slots_funded")),
                name="item_claim_queue",
            ),
            models.Index(
                fields=["project", "id"], condition=Q(is_gold=True), name="item_gold_by_project"
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} ({self.original_name})"
