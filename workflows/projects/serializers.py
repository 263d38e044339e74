"""Shapes of projects, label schemas, datasets and items in the API."""

import json

from django.contrib.auth import get_user_model
from rest_framework import serializers

from crowd.accounts.access import can_see_gold_answers

from .models import AnnotationKind, Category, Dataset, Item, LabelSchema, Project

User = get_user_model()


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "color", "keypoint_names", "skeleton"]
        read_only_fields = ["id"]


class LabelSchemaSerializer(serializers.ModelSerializer):
    categories = CategorySerializer(many=True)
    kind = serializers.ChoiceField(choices=AnnotationKind.choices)

    class Meta:
        model = LabelSchema
        fields = ["id", "name", "kind", "categories", "owner", "created_at"]
        read_only_fields = ["id", "owner", "created_at"]

    def validate(self, attrs):
        if self.instance is not None and "kind" in attrs and attrs["kind"] != self.instance.kind:
            raise serializers.ValidationError({"kind": "the kind of a schema cannot change"})
        return attrs


class ProjectSerializer(serializers.ModelSerializer):
    """The full project, for the people who manage, review or audit it."""

    label_schema = serializers.PrimaryKeyRelatedField(queryset=LabelSchema.objects.all())
    auditors = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), many=True, required=False
    )
    reviewers = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), many=True, required=False
    )

    class Meta:
        model = Project
        fields = [
            "id", "name", "description", "instructions", "owner", "label_schema", "status",
            "min_redundancy", "max_redundancy", "reward_minor", "currency", "budget_minor",
            "lease_seconds", "max_lease_extensions", "auto_approve_seconds", "accept_agreement",
            "accept_relaxed", "accept_relaxed_from",
            "iou_threshold", "quorum", "gold_rate", "gold_pass_score", "gate_min_gold_accuracy",
            "gate_window", "gate_action", "reversal_seconds", "auto_approve_min_agreement",
            "auto_reject_max_agreement", "deadline", "auditors", "reviewers",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "owner", "created_at", "updated_at"]


class ProjectPublicSerializer(serializers.ModelSerializer):
    """What a worker sees of a project: the work and the pay, nothing about money or people."""

    label_schema = LabelSchemaSerializer(read_only=True)

    class Meta:
        model = Project
        fields = [
            "id", "name", "description", "instructions", "label_schema", "reward_minor",
            "currency", "lease_seconds", "deadline",
        ]  # fmt: skip
        read_only_fields = fields


class DatasetSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    item_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Dataset
        fields = ["id", "project", "name", "created_by", "created_at", "item_count"]
        read_only_fields = ["id", "created_by", "created_at", "item_count"]


class JSONTextField(serializers.JSONField):
    """JSON that also accepts a JSON string, as multipart forms send it."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise serializers.ValidationError("must be valid JSON") from None
        return super().to_internal_value(data)


class ItemSerializer(serializers.ModelSerializer):
    """Items for managers, reviewers and auditors; the gold answer only for those allowed."""

    gold_answer = JSONTextField(required=False, allow_null=True)
    image = serializers.ImageField(read_only=True)

    class Meta:
        model = Item
        fields = [
            "id", "project", "dataset", "image", "original_name", "width", "height",
            "content_hash", "is_gold", "gold_answer", "priority", "state", "labels_wanted",
            "slots_taken", "created_at",
        ]  # fmt: skip
        read_only_fields = [
            "id", "project", "dataset", "image", "original_name", "width", "height",
            "content_hash", "is_gold", "state", "labels_wanted", "slots_taken", "created_at",
        ]  # fmt: skip

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not can_see_gold_answers(self.context["request"].user, instance.project):
            data.pop("gold_answer")
            data.pop("is_gold")
        return data


class ItemUploadSerializer(serializers.Serializer):
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    image = serializers.FileField()
    priority = serializers.IntegerField(default=0, min_value=-32768, max_value=32767)
    gold_answer = JSONTextField(required=False, allow_null=True, default=None)


class DatasetImportSerializer(serializers.Serializer):
    archive = serializers.FileField(required=False, help_text="A zip of images")
    folder = serializers.CharField(
        required=False, help_text="A folder below the server's QUORUM_IMPORT_ROOT"
    )
    skip_invalid = serializers.BooleanField(
        default=False, help_text="Skip unreadable images instead of refusing the whole import"
    )
    priority = serializers.IntegerField(default=0, min_value=-32768, max_value=32767)

    def validate(self, attrs):
        if bool(attrs.get("archive")) == bool(attrs.get("folder")):
            raise serializers.ValidationError("give exactly one of 'archive' or 'folder'")
        return attrs


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    item_ids = serializers.ListField(child=serializers.IntegerField())
    duplicates = serializers.ListField(child=serializers.CharField())
    rejected = serializers.DictField(child=serializers.CharField())
