from django.contrib import admin

from .models import (
    QualificationEvent,
    QualificationGrant,
    QualificationRequirement,
    QualificationType,
)


@admin.register(QualificationType)
class QualificationTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "system", "auto_grant", "is_active")
    list_filter = ("system", "auto_grant", "is_active")


class QualificationEventInline(admin.TabularInline):
    model = QualificationEvent
    extra = 0
    readonly_fields = ("kind", "value", "actor", "reason", "created_at")
    can_delete = False


@admin.register(QualificationGrant)
class QualificationGrantAdmin(admin.ModelAdmin):
    list_display = ("worker", "qualification_type", "value", "expires_at", "revoked_at")
    list_filter = ("qualification_type",)
    inlines = [QualificationEventInline]


@admin.register(QualificationRequirement)
class QualificationRequirementAdmin(admin.ModelAdmin):
    list_display = ("project", "qualification_type", "comparator", "value", "values")


@admin.register(QualificationEvent)
class QualificationEventAdmin(admin.ModelAdmin):
    list_display = ("grant", "kind", "value", "actor", "created_at")
    list_filter = ("kind",)
