"""Annotations: one annotator's regions for one item, validated before they are stored."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class AnnotationSource(models.TextChoices):
    CROWD = "crowd", "Crowd worker"
    MODEL = "model", "Model pre-label"
    IMPORT = "import", "Imported"


class Annotation(models.Model):
    """The payload is validated geometry in the project's kind (see crowd/labeling/geometry).

    A crowd annotation belongs to exactly one assignment (a second submit cannot add a second
    row); model pre-labels and imports have none and take part in consensus as one more annotator.
    """

    item = models.ForeignKey("projects.Item", on_delete=models.PROTECT, related_name="annotations")
    assignment = models.OneToOneField(
        "assignment.Assignment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="annotation",
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="annotations",
    )
    source = models.CharField(
        max_length=16, choices=AnnotationSource.choices, default=AnnotationSource.CROWD
    )
    model_name = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=16)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=AnnotationSource.values), name="annotation_source_valid"
            ),
            models.CheckConstraint(
                condition=~Q(source=AnnotationSource.CROWD)
                | Q(assignment__isnull=False, worker__isnull=False),
                name="annotation_crowd_has_assignment",
            ),
            models.CheckConstraint(
                condition=~Q(source=AnnotationSource.MODEL) | ~Q(model_name=""),
                name="annotation_model_is_named",
            ),
        ]
        indexes = [models.Index(fields=["item", "source"])]

    def __str__(self) -> str:
        return f"annotation {self.pk} on item {self.item_id}"
