"""API of golden dataset versions, their exports and COCO imports (thin: parse, authorise,
call one service, render).

Versions and exports are read by the project's manager, its auditors and operators; freezing,
exporting and importing are for the manager and operators (``crowd.accounts.access``).
"""

from django.db.models import Count
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from crowd.accounts import access
from crowd.common.api import ScopedViewSet
from crowd.common.exceptions import Conflict, InvalidInput

from .exports.services import export_job_list_readable_by, export_request
from .imports import coco_import
from .models import ExportJob, ExportStatus, GoldenDatasetVersion
from .versions import golden_version_diff, golden_version_freeze, golden_version_list_readable_by
from .versions_serializers import (
    CocoImportReportSerializer,
    CocoImportSerializer,
    ExportJobSerializer,
    ExportRequestSerializer,
    GoldenVersionSerializer,
)


class GoldenVersionFreezeApi(APIView):
    @extend_schema(request=None, responses={201: GoldenVersionSerializer})
    def post(self, request, project_id: int):
        """Freeze the project's current golden labels as its next numbered version."""
        project = access.access_project_for_manage(request.user, project_id)
        version = golden_version_freeze(project=project, actor=request.user)
        version.annotation_count = version.annotations.count()
        return Response(GoldenVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class GoldenVersionViewSet(ScopedViewSet):
    """Frozen versions (read-only: a version never changes), their diffs and exports."""

    queryset = GoldenDatasetVersion.objects.none()
    serializer_class = GoldenVersionSerializer
    filterset_fields = ["project"]
    ordering_fields = ["id", "number", "created_at"]
    # Asking for an export is a change (a job the platform runs and stores): auditors read
    # versions and download exports, but do not ask for them.
    read_actions = ("list", "retrieve", "diff")

    def visible_queryset(self):
        return (
            golden_version_list_readable_by(self.request.user)
            .annotate(annotation_count=Count("annotations"))
            .order_by("project_id", "number")
        )

    def can_change(self, obj) -> bool:
        # The only change offered is asking for an export; a version itself never changes.
        return access.can_export(self.request.user, obj.project)

    @extend_schema(
        parameters=[OpenApiParameter("against", int, required=True)], responses={200: dict}
    )
    @action(detail=True, methods=["get"], extra_query_params=("against",))
    def diff(self, request, pk=None):
        """Items added, removed and changed from version ``against`` to this one."""
        other = self.get_object()
        against = request.query_params.get("against", "")
        if not against.isdigit():
            raise InvalidInput("give the version to compare with as ?against=<id>")
        base = get_object_or_404(self.get_queryset(), pk=int(against))
        return Response(golden_version_diff(base=base, other=other))

    @extend_schema(request=ExportRequestSerializer, responses={202: ExportJobSerializer})
    @action(detail=True, methods=["post"])
    def exports(self, request, pk=None):
        """Ask for an archive of this version (COCO, VOC or YOLO); built in the background."""
        version = self.get_object()
        params = ExportRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        job = export_request(version=version, actor=request.user, **params.validated_data)
        job.refresh_from_db()  # an eager build has run at commit
        body = ExportJobSerializer(job, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ExportJobViewSet(ScopedViewSet):
    """Export jobs: status, progress and, once done, the archive."""

    queryset = ExportJob.objects.none()
    serializer_class = ExportJobSerializer
    filterset_fields = ["project", "version", "format", "status"]
    read_actions = ("list", "retrieve", "download")

    def visible_queryset(self):
        return export_job_list_readable_by(self.request.user).order_by("-id")

    def can_change(self, obj) -> bool:
        return False

    @extend_schema(responses={(200, "application/zip"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        job = self.get_object()
        if job.status != ExportStatus.DONE:
            raise Conflict(f"this export is {job.status}, not ready to download")
        name = f"v{job.version.number}-{job.format}.zip"
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=name,
                            content_type="application/zip")  # fmt: skip


class CocoImportApi(APIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=CocoImportSerializer, responses={201: CocoImportReportSerializer})
    def post(self, request, project_id: int):
        """Import COCO annotations as model pre-labels or as gold answers (all or nothing)."""
        project = access.access_project_for_manage(request.user, project_id)
        params = CocoImportSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        report = coco_import(project=project, actor=request.user, **params.validated_data)
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)
