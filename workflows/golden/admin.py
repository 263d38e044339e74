from django.contrib import admin

from .models import ConsensusResult, ExportJob, GoldenAnnotation, GoldenDatasetVersion


@admin.register(ConsensusResult)
class ConsensusResultAdmin(admin.ModelAdmin):
    list_display = ("item", "round", "method", "agreement", "decision", "created_at")
    list_filter = ("decision", "method")
    raw_id_fields = ("item",)
    filter_horizontal = ("annotations",)


@admin.register(GoldenAnnotation)
class GoldenAnnotationAdmin(admin.ModelAdmin):
    list_display = ("item", "project", "promoted_at", "superseded_at", "reviewed_by")
    raw_id_fields = ("item", "consensus_result")


@admin.register(GoldenDatasetVersion)
class GoldenDatasetVersionAdmin(admin.ModelAdmin):
    list_display = ("project", "number", "content_hash", "created_by", "created_at")
    readonly_fields = ("content_hash", "counts", "parameters")


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("version", "format", "status", "progress", "created_by", "created_at")
    list_filter = ("status", "format")
