"""Shapes of the bonus, payout, earnings and cost endpoints. Validation of shape only: the
services decide what an amount or a key may be."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import BonusPeriod, BonusRule, PayoutBatch, PayoutLine


@extend_schema_field(OpenApiTypes.INT)
class MinorUnitsField(serializers.Field):
    """A whole number of minor units as sent (an int or a string); the service parses it, so
    floats and ``true`` reach it unchanged and get one clear refusal."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


class BonusGrantSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    worker = serializers.IntegerField()
    amount_minor = MinorUnitsField(help_text="Positive whole number of minor units (250 = 2.50)")
    reason = serializers.CharField(max_length=500, help_text="Shown to the worker")
    idempotency_key = serializers.CharField(
        max_length=100, required=False, help_text="Or the Idempotency-Key header"
    )


class BonusEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="credit.project_id")
    worker = serializers.IntegerField(source="debit.worker_id")
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField(source="debit.currency")
    reason = serializers.CharField(source="memo")
    created_at = serializers.DateTimeField()


class BonusRuleSerializer(serializers.ModelSerializer):
    # A plain id: the view looks it up among the projects the user can see (404, not 400).
    project = serializers.IntegerField(source="project_id")
    amount_minor = MinorUnitsField()
    period = serializers.ChoiceField(choices=BonusPeriod.choices, default=BonusPeriod.WEEK)

    class Meta:
        model = BonusRule
        fields = [
            "id",
            "project",
            "kind",
            "amount_minor",
            "top_n",
            "period",
            "min_scored",
            "active",
            "created_at",
        ]
        read_only_fields = ["id", "kind", "active", "created_at"]


class PayoutLineSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="worker.username")

    class Meta:
        model = PayoutLine
        fields = ["id", "worker", "username", "amount_minor", "entry"]


class PayoutBatchSerializer(serializers.ModelSerializer):
    line_count = serializers.IntegerField(read_only=True)
    total_minor = serializers.IntegerField(read_only=True)

    class Meta:
        model = PayoutBatch
        fields = [
            "id",
            "currency",
            "status",
            "created_at",
            "closed_by",
            "closed_at",
            "paid_by",
            "paid_at",
            "external_reference",
            "line_count",
            "total_minor",
        ]


class PayoutBatchDetailSerializer(PayoutBatchSerializer):
    lines = PayoutLineSerializer(many=True, read_only=True)

    class Meta(PayoutBatchSerializer.Meta):
        fields = [*PayoutBatchSerializer.Meta.fields, "lines"]


class PayoutBatchCloseSerializer(serializers.Serializer):
    currency = serializers.CharField(max_length=3)
    idempotency_key = serializers.CharField(
        max_length=100, required=False, help_text="Or the Idempotency-Key header"
    )


class PayoutBatchMarkPaidSerializer(serializers.Serializer):
    external_reference = serializers.CharField(max_length=200)


class CurrencyEarningsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    pending_count = serializers.IntegerField()
    pending_minor = serializers.IntegerField()
    approved_count = serializers.IntegerField()
    approved_minor = serializers.IntegerField()
    rejected_count = serializers.IntegerField()
    bonus_minor = serializers.IntegerField()
    paid_out_minor = serializers.IntegerField()
    payable_minor = serializers.IntegerField()
    approved_seconds = serializers.IntegerField()
    hourly_rate_minor = serializers.IntegerField(allow_null=True)


class _EarnedAssignmentSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    project_id = serializers.IntegerField()
    project_name = serializers.CharField()
    currency = serializers.CharField()
    submitted_at = serializers.DateTimeField()


class PendingSerializer(_EarnedAssignmentSerializer):
    expected_minor = serializers.IntegerField()


class ApprovedSerializer(_EarnedAssignmentSerializer):
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reward_minor = serializers.IntegerField(allow_null=True)


class RejectedSerializer(_EarnedAssignmentSerializer):
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()


class EarnedBonusSerializer(serializers.Serializer):
    entry_id = serializers.IntegerField()
    project_id = serializers.IntegerField(allow_null=True)
    project_name = serializers.CharField()
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class EarnedPayoutSerializer(serializers.Serializer):
    line_id = serializers.IntegerField()
    batch_id = serializers.IntegerField()
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)


class WorkerEarningsSerializer(serializers.Serializer):
    currencies = CurrencyEarningsSerializer(many=True)
    pending = PendingSerializer(many=True)
    approved = ApprovedSerializer(many=True)
    rejected = RejectedSerializer(many=True)
    bonuses = EarnedBonusSerializer(many=True)
    payouts = EarnedPayoutSerializer(many=True)


class ProjectCostSerializer(serializers.Serializer):
    project_id = serializers.IntegerField()
    project_name = serializers.CharField()
    currency = serializers.CharField()
    rewards_minor = serializers.IntegerField()
    bonuses_minor = serializers.IntegerField()
    spent_minor = serializers.IntegerField()
    labels_bought = serializers.IntegerField()
    promoted_items = serializers.IntegerField()
    cost_per_item_minor = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    labels_per_item = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
