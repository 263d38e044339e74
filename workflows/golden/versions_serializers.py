"""Shapes of the golden dataset version, export and COCO import endpoints."""

import json

from django.urls import reverse
from rest_framework import serializers

from .imports import IMPORT_AS
from .models import ExportFormat, ExportJob, GoldenDatasetVersion


class GoldenVersionSerializer(serializers.ModelSerializer):
    annotation_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = GoldenDatasetVersion
        fields = ["id", "project", "number", "content_hash", "counts", "parameters",
                  "annotation_count", "created_by", "created_at"]  # fmt: skip
        read_only_fields = fields


class ExportRequestSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    include_images = serializers.BooleanField(default=True)


class ExportJobSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = ["id", "project", "version", "format", "include_images", "status", "progress",
                  "error", "download_url", "created_by", "created_at", "finished_at"]  # fmt: skip
        read_only_fields = fields

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != "done":
            return None
        path = reverse("export-download", kwargs={"pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class CocoImportSerializer(serializers.Serializer):
    """Either a COCO JSON ``file`` (multipart) or the COCO dict as ``coco`` (JSON body)."""

    file = serializers.FileField(required=False)
    coco = serializers.JSONField(required=False)
    as_ = serializers.ChoiceField(choices=IMPORT_AS)
    model_name = serializers.CharField(max_length=120, default="import")
    skip_unmatched = serializers.BooleanField(default=False)

    def validate(self, attrs):
        upload = attrs.pop("file", None)
        if (upload is None) == ("coco" not in attrs):
            raise serializers.ValidationError("send either a COCO 'file' or a 'coco' object")
        if upload is not None:
            try:
                attrs["coco"] = json.loads(upload.read())
            except (UnicodeDecodeError, ValueError):
                raise serializers.ValidationError({"file": "not a JSON file"}) from None
        if not isinstance(attrs["coco"], dict):
            raise serializers.ValidationError({"coco": "a COCO dataset is a JSON object"})
        return attrs


class CocoImportReportSerializer(serializers.Serializer):
    as_ = serializers.CharField(source="as")
    matched = serializers.IntegerField()
    created = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())
    existing = serializers.ListField(child=serializers.CharField())
    unmatched_images = serializers.ListField(child=serializers.CharField())
    unknown_categories = serializers.ListField(child=serializers.CharField())
    skipped_annotations = serializers.IntegerField()
