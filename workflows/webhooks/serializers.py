"""Shapes of webhook endpoints and deliveries in the API. The secret is shown on creation only."""

from rest_framework import serializers

from workflows.projects.models import Project

from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent


class WebhookEndpointSerializer(serializers.ModelSerializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    url = serializers.URLField(max_length=2000)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        required=False,
        help_text="Events to send; empty means all.",
    )
    secret = serializers.CharField(
        write_only=True, required=False, min_length=16, max_length=128,
        help_text="Optional on creation; generated when omitted. Never shown again.",
    )  # fmt: skip

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "project", "url", "events", "is_active", "secret", "created_by",
                  "created_at"]  # fmt: skip
        read_only_fields = ["id", "created_by", "created_at"]

    def validate(self, attrs):
        if self.instance is not None:
            if "project" in attrs and attrs["project"] != self.instance.project:
                raise serializers.ValidationError({"project": "an endpoint cannot move project"})
            if "secret" in attrs:
                raise serializers.ValidationError(
                    {"secret": "the secret cannot be changed; create a new endpoint"}
                )
        return attrs


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The creation response: the only time the secret leaves the server."""

    secret = serializers.CharField(read_only=True)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "endpoint", "event", "event_id", "payload", "status", "attempts",
            "next_attempt_at", "last_status_code", "last_error", "created_at", "delivered_at",
        ]  # fmt: skip
        read_only_fields = fields
