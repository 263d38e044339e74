"""Shapes of assignments and blocks in the API.

Nothing here tells a worker whether an item is gold: no gold flag, no gold score, no review
flag appear in any serializer a worker reads.
"""

from django.urls import reverse
from rest_framework import serializers

from workflows.projects.serializers import CategorySerializer

from .models import Assignment, Block


class AssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assignment
        fields = [
            "id", "project", "item", "worker", "status", "leased_at", "lease_expires_at",
            "extensions", "submitted_at", "reviewed_at", "reject_reason",
        ]  # fmt: skip
        read_only_fields = fields


class LeaseSerializer(serializers.ModelSerializer):
    """What a worker needs to do the task: the image, its size, the schema, the deadline."""

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
