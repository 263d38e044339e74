"""Who may see which webhook endpoints, and the delivery log."""

from django.db.models import QuerySet

from crowd.accounts import access

from .models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list_visible_for(user) -> QuerySet[WebhookEndpoint]:
    """Managers see their projects' endpoints; auditors read those of projects they audit
    (where a project's data is sent is part of an audit); workers and reviewers see none."""
    projects = access.project_list_reports_readable_by(user)
    return WebhookEndpoint.objects.filter(project__in=projects).order_by("id")


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    return endpoint.deliveries.order_by("-created_at", "-id")
