"""Webhook endpoints (where a project's events go) and their deliveries (the outbox and its log).

A delivery moves ``pending -> delivering -> delivered``; a failed attempt puts it back to
``pending`` with a later ``next_attempt_at``, and the last allowed failure makes it ``failed``.
While ``delivering``, ``next_attempt_at`` is the claim's lease: a worker that dies mid-attempt
leaves a row that the sweeper hands to another worker once the lease has passed.
"""

import secrets

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class WebhookEvent(models.TextChoices):
    """Events a project can subscribe to. ``ping`` is internal: the endpoint's test button."""

    ITEM_PROMOTED = "item.promoted", "An item was promoted into the golden set"
    VERSION_FROZEN = "version.frozen", "A golden dataset version was frozen"
    EXPORT_READY = "export.ready", "An export archive is ready to download"


PING_EVENT = "ping"
DELIVERY_EVENTS = [*WebhookEvent.values, PING_EVENT]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERING = "delivering", "Delivering"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL that is sent a signed POST for each subscribed event of one project."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=128, default=new_secret)
    # An empty list subscribes to every event, including ones added later.
    events = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"),
                name="webhookendpoint_url_http",
                violation_error_message="a webhook URL must use http or https",
            ),
            models.CheckConstraint(condition=~Q(secret=""), name="webhookendpoint_secret_set"),
        ]

    def __str__(self) -> str:
        return f"{self.url} (project {self.project_id})"

    def subscribes_to(self, event: str) -> bool:
        return not self.events or event in self.events


class WebhookDelivery(models.Model):
    """One event for one endpoint. (endpoint, event_id) is the idempotency key."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40)
    event_id = models.UUIDField()
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Not auto_now_add: one emit stamps all its deliveries with the same event time.
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhookdelivery_unique_event"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhookdelivery_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(event__in=DELIVERY_EVENTS), name="webhookdelivery_event_valid"
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=0), name="webhookdelivery_attempts_nonnegative"
            ),
        ]
        indexes = [
            # The sweeper's scan: rows waiting (or stuck) whose time has come.
            models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} -> endpoint {self.endpoint_id} ({self.status})"
