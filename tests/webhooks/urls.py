"""The project's URLs plus the webhook routes, until crowd/api_v1.py registers them itself."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from workflows.webhooks.api import WebhookEndpointViewSet

router = DefaultRouter()
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("", include("crowd.urls")),
]
