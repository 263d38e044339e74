"""The site's URLs plus the version, export and import routes, for tests that run before
``crowd/api_v1.py`` registers them (and unchanged after: these match first, same views)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from crowd.urls import urlpatterns as site_urlpatterns
from workflows.golden.versions_api import (
    CocoImportApi,
    ExportJobViewSet,
    GoldenVersionFreezeApi,
    GoldenVersionViewSet,
)

router = SimpleRouter()
router.register("golden-versions", GoldenVersionViewSet, basename="goldenversion")
router.register("exports", ExportJobViewSet, basename="export")

golden_routes = [
    path(
        "projects/<int:project_id>/golden-versions/",
        GoldenVersionFreezeApi.as_view(),
        name="golden-version-freeze",
    ),
    path("projects/<int:project_id>/imports/coco/", CocoImportApi.as_view(), name="coco-import"),
    *router.urls,
]

urlpatterns = [path("api/v1/", include(golden_routes)), *site_urlpatterns]
