"""Project API: label schemas, projects, datasets and items (thin: parse, authorise, call)."""

from django.db.models import Count, Q
from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crowd.accounts import access
from crowd.common.api import ScopedViewSet
from crowd.common.exceptions import Conflict

from . import services
from .images import folder_members, zip_members
from .models import Dataset, Item, LabelSchema, Project
from .serializers import (
    DatasetImportSerializer,
    DatasetSerializer,
    ImportReportSerializer,
    ItemSerializer,
    ItemUploadSerializer,
    LabelSchemaSerializer,
    ProjectPublicSerializer,
    ProjectSerializer,
)


class _Writable(mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    pass


class LabelSchemaViewSet(_Writable, ScopedViewSet):
    queryset = LabelSchema.objects.none()
    serializer_class = LabelSchemaSerializer
    filterset_fields = ["kind"]
    search_fields = ["name"]

    def visible_queryset(self):
        user = self.request.user
        if access.is_operator(user):
            schemas = LabelSchema.objects.all()
        else:
            schemas = LabelSchema.objects.filter(
                Q(owner=user) | Q(projects__in=access.project_list_visible_for(user))
            ).distinct()
        return schemas.prefetch_related("categories").order_by("id")

    def can_change(self, obj) -> bool:
        return access.can_change_owned(self.request.user, owner_id=obj.owner_id)

    def perform_create(self, serializer):
        access.check_can_create_projects(self.request.user)
        serializer.instance = services.label_schema_create(
            owner=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.label_schema_update(
            schema=serializer.instance, name=data.get("name"), categories=data.get("categories")
        )

    def perform_destroy(self, instance):
        services.label_schema_delete(schema=instance)


class ProjectViewSet(_Writable, ScopedViewSet):
    queryset = Project.objects.none()
    filterset_fields = ["status", "label_schema"]
    search_fields = ["name", "description"]
    ordering_fields = ["id", "name", "created_at"]

    def visible_queryset(self):
        return (
            access.project_list_visible_for(self.request.user)
            .select_related("label_schema")
            .prefetch_related("auditors", "reviewers", "label_schema__categories")
            .order_by("id")
        )

    def get_serializer_class(self):
        user = self.request.user
        if user.is_authenticated and not access.can_see_project_people(user):
            return ProjectPublicSerializer
        return ProjectSerializer

    def can_change(self, obj) -> bool:
        return access.can_manage_project(self.request.user, obj)

    def perform_create(self, serializer):
        access.check_can_create_projects(self.request.user)
        serializer.instance = services.project_create(
            owner=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.project_update(
            project=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.project_delete(project=instance)


class DatasetViewSet(mixins.CreateModelMixin, mixins.DestroyModelMixin, ScopedViewSet):
    queryset = Dataset.objects.none()
    serializer_class = DatasetSerializer
    filterset_fields = ["project"]
    search_fields = ["name"]

    def visible_queryset(self):
        projects = access.project_list_readable_data_for(self.request.user)
        return (
            Dataset.objects.filter(project__in=projects)
            .annotate(item_count=Count("items"))
            .order_by("id")
        )

    def can_change(self, obj) -> bool:
        return access.can_manage_project(self.request.user, obj.project)

    def perform_create(self, serializer):
        project = access.access_project_for_manage(
            self.request.user, serializer.validated_data["project"].pk
        )
        serializer.instance = services.dataset_create(
            project=project, name=serializer.validated_data["name"], created_by=self.request.user
        )

    def perform_destroy(self, instance):
        services.dataset_delete(dataset=instance)

    @extend_schema(request=DatasetImportSerializer, responses=ImportReportSerializer)
    @action(detail=True, methods=["post"], url_path="import",
            parser_classes=[MultiPartParser, FormParser, JSONParser])  # fmt: skip
    def import_images(self, request, pk=None):
        """Add every image of a zip upload, or of a folder on the server, to this dataset."""
        dataset = self.get_object()
        params = DatasetImportSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        files = (
            zip_members(data["archive"]) if data.get("archive") else folder_members(data["folder"])
        )
        report = services.items_create(
            dataset=dataset, files=files, skip_invalid=data["skip_invalid"],
            priority=data["priority"],
        )  # fmt: skip
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)


class ItemViewSet(
    mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, ScopedViewSet
):
    queryset = Item.objects.none()
    filterset_fields = ["project", "dataset", "state", "is_gold"]
    read_actions = ("list", "retrieve", "image")
    ordering_fields = ["id", "priority", "created_at"]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_serializer_class(self):
        return ItemUploadSerializer if self.action == "create" else ItemSerializer

    def visible_queryset(self):
        projects = access.project_list_readable_data_for(self.request.user)
        return Item.objects.filter(project__in=projects).select_related("project").order_by("id")

    def can_change(self, obj) -> bool:
        return access.can_manage_project(self.request.user, obj.project)

    def filter_queryset(self, queryset):
        # Reviewers judge labels; letting them find the gold items would bias them.
        user = self.request.user
        if "is_gold" in self.request.query_params and not access.can_filter_by_gold(user):
            raise PermissionDenied("you may not filter by gold status")
        return super().filter_queryset(queryset)

    @extend_schema(request=ItemUploadSerializer, responses=ItemSerializer)
    def create(self, request, *args, **kwargs):
        """Upload one image into a dataset (multipart: dataset, image, priority, gold_answer)."""
        upload = ItemUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        dataset = access.access_dataset_for_manage(request.user, data["dataset"].pk)
        name = data["image"].name
        report = services.items_create(
            dataset=dataset,
            files=[(name, data["image"].read())],
            priority=data["priority"],
            gold_answers={name: data["gold_answer"]} if data["gold_answer"] is not None else None,
        )
        if report.duplicates:
            raise Conflict(f"{name} is already in this dataset (same image content)")
        item = Item.objects.get(pk=report.created[0])
        body = ItemSerializer(item, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = serializer.validated_data
        kwargs = {"priority": data.get("priority")}
        if "gold_answer" in data:
            kwargs["gold_answer"] = data["gold_answer"]
        serializer.instance = services.item_update(item=serializer.instance, **kwargs)

    def perform_destroy(self, instance):
        services.item_delete(item=instance)

    @extend_schema(responses={(200, "image/*"): bytes})
    @action(detail=True, methods=["get"])
    def image(self, request, pk=None):
        """The item's image file."""
        return FileResponse(self.get_object().image.open("rb"))
