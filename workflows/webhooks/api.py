"""Webhook API: endpoints of a project, their delivery log and a test ping (thin)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from crowd.accounts import access
from crowd.common.api import ScopedViewSet

from . import services
from .models import WebhookEndpoint
from .selectors import webhook_delivery_list, webhook_endpoint_list_visible_for
from .serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
)


class WebhookEndpointViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, ScopedViewSet
):
    """Managers register URLs for their projects' events; auditors may read them."""

    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    filterset_fields = ["project", "is_active"]
    read_actions = ("list", "retrieve", "deliveries")

    def visible_queryset(self):
        return webhook_endpoint_list_visible_for(self.request.user)

    def can_change(self, obj) -> bool:
        return access.can_manage_project(self.request.user, obj.project)

    @extend_schema(request=WebhookEndpointSerializer, responses=WebhookEndpointCreatedSerializer)
    def create(self, request, *args, **kwargs):
        """Register an endpoint; the response holds its signing secret, shown this once."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        project = access.access_project_for_manage(request.user, data["project"].pk)
        endpoint = services.webhook_endpoint_create(
            project=project, url=data["url"], events=data.get("events"),
            secret=data.get("secret"), is_active=data.get("is_active", True),
            created_by=request.user,
        )  # fmt: skip
        body = WebhookEndpointCreatedSerializer(endpoint, context=self.get_serializer_context())
        return Response(body.data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.webhook_endpoint_update(
            endpoint=serializer.instance, url=data.get("url"), events=data.get("events"),
            is_active=data.get("is_active"),
        )  # fmt: skip

    def perform_destroy(self, instance):
        services.webhook_endpoint_delete(endpoint=instance)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The endpoint's delivery log, newest first."""
        deliveries = webhook_delivery_list(endpoint=self.get_object())
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a signed ``ping`` event to this endpoint now; the delivery is returned."""
        delivery = services.webhook_ping(endpoint=self.get_object())
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
