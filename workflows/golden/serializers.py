"""Shapes of consensus results, golden annotations and review requests in the API."""

from rest_framework import serializers

from .models import ConsensusResult, GoldenAnnotation


class ConsensusResultSerializer(serializers.ModelSerializer):
    annotations = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = ConsensusResult
        fields = [
            "id", "item", "round", "annotations", "worker_weights", "method", "parameters",
            "package_version", "inputs_digest", "result", "agreement", "decision", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class GoldenAnnotationSerializer(serializers.ModelSerializer):
    source_annotations = serializers.SerializerMethodField()

    class Meta:
        model = GoldenAnnotation
        fields = [
            "id", "project", "item", "payload", "consensus_result", "reviewed_by",
            "promoted_at", "superseded_at", "source_annotations",
        ]  # fmt: skip
        read_only_fields = fields

    def get_source_annotations(self, obj) -> list[int]:
        """The raw answers this label was made from: the audit trail."""
        if obj.consensus_result_id is None:
            return []
        return [a.pk for a in obj.consensus_result.annotations.all()]


class CandidateSerializer(serializers.Serializer):
    id = serializers.CharField(help_text='An annotation id, or "consensus"')
    worker = serializers.IntegerField(allow_null=True)
    source = serializers.CharField()
    payload = serializers.JSONField()


class ReviewItemSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    image_url = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True)
    candidates = CandidateSerializer(many=True)


class ReviewDecisionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["accept", "edit", "reject"])
    candidate = serializers.CharField(required=False, help_text='Annotation id or "consensus"')
    payload = serializers.JSONField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")
