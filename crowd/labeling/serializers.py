"""Shapes of annotations in the API."""

from rest_framework import serializers

from .models import Annotation


class AnnotationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Annotation
        fields = [
            "id", "item", "assignment", "worker", "source", "model_name", "kind", "payload",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields
