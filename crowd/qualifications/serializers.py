"""Shapes of qualification types, requirements, grants, audit events and test attempts."""

from django.utils import timezone
from rest_framework import serializers

from crowd.accounts.models import User
from workflows.projects.models import Project

from .models import (
    Comparator,
    QualificationEvent,
    QualificationGrant,
    QualificationRequirement,
    QualificationTestAttempt,
    QualificationType,
)
from .selectors import grant_is_held, qualification_test_next_item_ids


class QualificationTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualificationType
        fields = [
            "id", "name", "description", "owner", "system", "auto_grant", "auto_grant_value",
            "grant_lifetime_seconds", "test_project", "test_size", "retake_delay_seconds", "is_active",
            "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "owner", "system", "created_at"]


class QualificationRequirementSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    comparator = serializers.ChoiceField(choices=Comparator.choices)
    values = serializers.ListField(
        child=serializers.IntegerField(), required=False, allow_null=True, max_length=1000
    )

    class Meta:
        model = QualificationRequirement
        fields = ["id", "project", "qualification_type", "comparator", "value", "values"]
        read_only_fields = ["id"]


class QualificationGrantSerializer(serializers.ModelSerializer):
    qualification_type_name = serializers.CharField(source="qualification_type.name")
    worker_username = serializers.CharField(source="worker.username")
    is_held = serializers.SerializerMethodField()

    class Meta:
        model = QualificationGrant
        fields = [
            "id", "qualification_type", "qualification_type_name", "worker", "worker_username",
            "value", "granted_at", "expires_at", "revoked_at", "is_held",
        ]  # fmt: skip
        read_only_fields = fields

    def get_is_held(self, grant) -> bool:
        return grant_is_held(grant, now=timezone.now())


class QualificationGrantCreateSerializer(serializers.Serializer):
    qualification_type = serializers.PrimaryKeyRelatedField(
        queryset=QualificationType.objects.all()
    )
    worker = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    value = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class QualificationRevokeSerializer(serializers.Serializer):
    qualification_type = serializers.PrimaryKeyRelatedField(
        queryset=QualificationType.objects.all()
    )
    worker = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class QualificationEventSerializer(serializers.ModelSerializer):
    qualification_type = serializers.IntegerField(source="grant.qualification_type_id")
    worker = serializers.IntegerField(source="grant.worker_id")

    class Meta:
        model = QualificationEvent
        fields = [
            "id", "grant", "qualification_type", "worker", "kind", "value", "actor", "reason",
            "project", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class QualificationTestAttemptSerializer(serializers.ModelSerializer):
    """A test attempt as its worker sees it: which project to claim from and how far along.

    The chosen item ids stay private: they would tell gold items of the test project apart.
    """

    test_project = serializers.IntegerField(source="qualification_type.test_project_id")
    items_total = serializers.SerializerMethodField()
    items_remaining = serializers.SerializerMethodField()

    class Meta:
        model = QualificationTestAttempt
        fields = [
            "id", "qualification_type", "test_project", "started_at", "completed_at", "score",
            "items_total", "items_remaining",
        ]  # fmt: skip
        read_only_fields = fields

    def get_items_total(self, attempt) -> int:
        return len(attempt.item_ids)

    def get_items_remaining(self, attempt) -> int:
        if attempt.completed_at is not None:
            return 0
        return len(qualification_test_next_item_ids(attempt=attempt))
