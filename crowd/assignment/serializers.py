"""Shapes of assignments and blocks in the API.

Nothing here tells a worker whether an item is gold: no gold flag, no gold score, no review
flag appear in any serializer a worker reads.
"""

from django.urls import reverse
from rest_framework import serializers

from workflows.projects.serializers import CategorySerializer

from .models import Assignment, Block
from .selectors import LeaseBrief


class AssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = [
            "id", "project", "item", "worker", "status", "leased_at", "lease_expires_at",
            "extensions", "submitted_at", "reviewed_at", "reject_reason",
        ]  # fmt: skip
        read_only_fields = fields


class LeaseSerializer(serializers.ModelSerializer):
    """What a worker needs to do the work: the image, its size, the schema, the deadline."""

    image_url = serializers.SerializerMethodField()
    width = serializers.IntegerField(source="item.width")
    height = serializers.IntegerField(source="item.height")
    kind = serializers.CharField(source="project.label_schema.kind")
    categories = CategorySerializer(source="project.label_schema.categories", many=True)
    instructions = serializers.CharField(source="project.instructions")
    extensions_left = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "id", "project", "item", "status", "leased_at", "lease_expires_at", "extensions",
            "extensions_left", "image_url", "width", "height", "kind", "categories",
            "instructions",
        ]  # fmt: skip
        read_only_fields = fields

    def get_image_url(self, obj) -> str:
        return reverse("assignment-image", kwargs={"pk": obj.pk})

    def get_extensions_left(self, obj) -> int:
        return max(0, obj.project.max_lease_extensions - obj.extensions)


_WHEN = serializers.DateTimeField()


def lease_data(assignment: Assignment, brief: LeaseBrief) -> dict:
    """LeaseSerializer's output, built directly: the claim endpoint answers with it on every
    claim, and the serializer (field copies, nested lookups) cost as much as the claim.
    tests/assignment/test_api.py checks that the two agree."""
    return {
        "id": assignment.pk,
        "project": assignment.project_id,
        "item": assignment.item_id,
        "status": assignment.status,
        "leased_at": _WHEN.to_representation(assignment.leased_at),
        "lease_expires_at": _WHEN.to_representation(assignment.lease_expires_at),
        "extensions": assignment.extensions,
        "extensions_left": max(0, brief.max_lease_extensions - assignment.extensions),
        "image_url": reverse("assignment-image", kwargs={"pk": assignment.pk}),
        "width": brief.width,
        "height": brief.height,
        "kind": brief.kind,
        "categories": brief.categories,
        "instructions": brief.instructions,
    }


class SubmitSerializer(serializers.Serializer):
    payload = serializers.JSONField(help_text="The answer, in the project's kind (see README)")


class BlockSerializer(serializers.ModelSerializer):
    class Meta:
        model = Block
        fields = [
            "id", "worker", "project", "reason", "created_by", "created_at", "lifted_at",
            "lifted_by",
        ]  # fmt: skip
        read_only_fields = ["id", "created_by", "created_at", "lifted_at", "lifted_by"]
