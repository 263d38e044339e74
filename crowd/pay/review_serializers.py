"""Shapes of review, appeal and budget requests and answers. Validation of meaning (ids,
reasons, amounts) happens in the services, so the API and the pages refuse the same things."""

from rest_framework import serializers

from .models import Appeal, ReviewDecision


class ReviewIdsSerializer(serializers.Serializer):
    ids = serializers.JSONField(help_text="A list of assignment ids")


class RejectSerializer(ReviewIdsSerializer):
    reason = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text="Shown to the worker"
    )


class ReviewReportSerializer(serializers.Serializer):
    changed = serializers.ListField(child=serializers.IntegerField())
    unchanged = serializers.ListField(child=serializers.IntegerField())


class AppealCreateSerializer(serializers.Serializer):
    message = serializers.CharField(allow_blank=True, trim_whitespace=False)


class AppealAnswerSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    answer = serializers.CharField(allow_blank=True, trim_whitespace=False)


class AppealSerializer(serializers.ModelSerializer):
    class Meta:
        model = Appeal
        fields = [
            "id", "assignment", "message", "created_at", "outcome", "answer", "decided_by",
            "decided_at",
        ]  # fmt: skip
        read_only_fields = fields


class ReviewDecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewDecision
        fields = ["id", "assignment", "decision", "automatic", "evidence", "actor", "created_at"]
        read_only_fields = fields


class BudgetSetSerializer(serializers.Serializer):
    budget_minor = serializers.JSONField(help_text="Whole minor units, e.g. 2500 = 25.00")


class BudgetSerializer(serializers.Serializer):
    authorised_minor = serializers.IntegerField()
    funded_minor = serializers.IntegerField()
    reserved_minor = serializers.IntegerField()
    spent_minor = serializers.IntegerField()
    available_minor = serializers.IntegerField()
    currency = serializers.CharField()
