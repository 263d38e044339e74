"""Admin: endpoints and the delivery log, for display and filtering (writes go through the API)."""

from django.contrib import admin

from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "url", "events", "is_active", "created_by", "created_at"]
    list_filter = ["is_active"]
    exclude = ["secret"]
    readonly_fields = ["project", "created_by"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "event", "status", "attempts", "last_status_code",
                    "next_attempt_at", "created_at", "delivered_at"]  # fmt: skip
    list_filter = ["status", "event"]
    search_fields = ["event_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
