from django.contrib import admin

from .models import Assignment, Block


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "item", "worker", "status", "lease_expires_at")
    list_filter = ("status", "project")
    raw_id_fields = ("item", "worker", "reviewed_by")


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("worker", "project", "reason", "created_at", "lifted_at")
    raw_id_fields = ("worker",)
