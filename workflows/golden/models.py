"""Consensus results with provenance, golden annotations and frozen golden dataset versions."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ConsensusDecision(models.TextChoices):
    PROMOTE = "promote", "Agreement reached: promote"
    MORE_LABELS = "more_labels", "Agreement low: ask for another label"
    ESCALATE = "escalate", "Redundancy exhausted: expert review"


class ConsensusResult(models.Model):
    """One run of the consensus package on one item's annotations.

    ``inputs_digest`` hashes the annotation ids, weights, method, parameters and package
    version, so re-running on the same inputs finds this row instead of writing a new one.
    """

    item = models.ForeignKey(
        "projects.Item", on_delete=models.PROTECT, related_name="consensus_results"
    )
    round = models.PositiveSmallIntegerField()
    annotations = models.ManyToManyField("labeling.Annotation", related_name="consensus_results")
    worker_weights = models.JSONField(default=dict)
    method = models.CharField(max_length=64)
    parameters = models.JSONField(default=dict)
    package_version = models.CharField(max_length=32)
    inputs_digest = models.CharField(max_length=64)
    result = models.JSONField(help_text="Fused regions with support and uncertainty")
    agreement = models.FloatField()
    decision = models.CharField(max_length=16, choices=ConsensusDecision.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "round"], name="consensus_one_per_round"),
            models.UniqueConstraint(
                fields=["item", "inputs_digest"], name="consensus_one_per_inputs"
            ),
            models.CheckConstraint(
                condition=Q(agreement__gte=0, agreement__lte=1), name="consensus_agreement_unit"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=ConsensusDecision.values), name="consensus_decision_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"consensus round {self.round} of item {self.item_id}: {self.decision}"


class GoldenAnnotation(models.Model):
    """An item's trusted label. Promotions append; the previous row is marked superseded.

    Provenance is required: a consensus result, a reviewer's decision, or both.
    """

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="golden_annotations"
    )
    item = models.ForeignKey(
        "projects.Item", on_delete=models.PROTECT, related_name="golden_annotations"
    )
    payload = models.JSONField()
    consensus_result = models.ForeignKey(
        ConsensusResult, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    promoted_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(superseded_at__isnull=True),
                name="golden_one_current_per_item",
            ),
            models.CheckConstraint(
                condition=Q(consensus_result__isnull=False) | Q(reviewed_by__isnull=False),
                name="golden_has_provenance",
            ),
        ]

    def __str__(self) -> str:
        return f"golden label of item {self.item_id}"


class GoldenDatasetVersion(models.Model):
    """A numbered, immutable snapshot of a project's golden annotations."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="golden_versions"
    )
    number = models.PositiveIntegerField()
    annotations = models.ManyToManyField(GoldenAnnotation, related_name="versions")
    content_hash = models.CharField(max_length=64)
    counts = models.JSONField(default=dict, help_text="Items and regions per category")
    parameters = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="golden_version_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="golden_version_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.project} v{self.number}"


class ExportFormat(models.TextChoices):
    COCO = "coco", "COCO JSON"
    VOC = "voc", "Pascal VOC XML"
    YOLO = "yolo", "YOLO text"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


# A request for the same version, format and image option reuses any of these jobs.
EXPORT_REUSABLE = [ExportStatus.QUEUED, ExportStatus.RUNNING, ExportStatus.DONE]


class ExportJob(models.Model):
    """One archive of a golden dataset version in one format, built by a Celery task.

    The partial unique constraint makes a repeated request return the live or finished job
    rather than build a second archive; a failed job does not block a new request.
    ``heartbeat_at`` moves with progress, so a build whose worker died can be claimed again;
    ``started_at`` identifies the claim, so only its holder may finish the job.
    """

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="export_jobs"
    )
    version = models.ForeignKey(
        GoldenDatasetVersion, on_delete=models.PROTECT, related_name="export_jobs"
    )
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    include_images = models.BooleanField(default=True)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.FloatField(default=0.0)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the build was claimed")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "format", "include_images"],
                condition=Q(status__in=EXPORT_REUSABLE),
                name="export_one_live_per_variant",
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=1), name="export_progress_unit"
            ),
            models.CheckConstraint(
                condition=Q(format__in=ExportFormat.values), name="export_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ExportStatus.values), name="export_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.format} export of {self.version} ({self.status})"
