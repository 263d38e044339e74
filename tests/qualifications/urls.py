"""The site's URLs plus the qualification routes, until crowd/api_v1.py registers them."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from crowd.qualifications.api import QualificationEventViewSet, QualificationGrantViewSet
from crowd.urls import urlpatterns as site_urlpatterns

router = SimpleRouter()
router.register("qualification-grants", QualificationGrantViewSet, basename="qualificationgrant")
router.register("qualification-events", QualificationEventViewSet, basename="qualificationevent")

urlpatterns = [path("api/v1/", include(router.urls)), *site_urlpatterns]
