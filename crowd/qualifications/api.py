"""Qualification API: types (managers create, everyone reads), project requirements, grants
(with revocation), the audit trail, and starting a qualification test."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from crowd.accounts import access
from crowd.common.api import ScopedViewSet
from crowd.common.exceptions import InvalidInput

from . import selectors, services
from .models import (
    QualificationEvent,
    QualificationGrant,
    QualificationRequirement,
    QualificationType,
)
from .serializers import (
    QualificationEventSerializer,
    QualificationGrantCreateSerializer,
    QualificationGrantSerializer,
    QualificationRequirementSerializer,
    QualificationRevokeSerializer,
    QualificationTestAttemptSerializer,
    QualificationTypeSerializer,
)


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _Writable(mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    pass


class QualificationTypeViewSet(_Writable, ScopedViewSet):
    queryset = QualificationType.objects.none()
    serializer_class = QualificationTypeSerializer
    filterset_fields = ["system", "auto_grant", "is_active"]
    search_fields = ["name", "description"]

    def visible_queryset(self):
        return QualificationType.objects.order_by("id")

    def can_change(self, obj) -> bool:
        user = self.request.user
        return access.is_operator(user) or (
            not obj.system and access.can_change_owned(user, owner_id=obj.owner_id)
        )

    def perform_create(self, serializer):
        access.check_can_create_projects(self.request.user)
        serializer.instance = services.qualification_type_create(
            owner=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.qualification_type_update(
            qualification_type=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.qualification_type_delete(qualification_type=instance)

    @extend_schema(request=None, responses=QualificationTestAttemptSerializer)
    @action(detail=True, methods=["post"], url_path="test")
    def test_start(self, request, pk=None):
        """Start (or resume) the caller's attempt at this type's qualification test; then claim
        its items on ``test_project`` with the usual claim endpoint."""
        # Any worker who can see the type may take its test: no can_change check here.
        qualification_type = get_object_or_404(self.get_queryset(), pk=pk)
        access.check_can_take_tasks(request.user)
        attempt = services.qualification_test_start(
            worker=request.user, qualification_type=qualification_type
        )
        return Response(QualificationTestAttemptSerializer(attempt).data)


class QualificationRequirementViewSet(_Writable, ScopedViewSet):
    queryset = QualificationRequirement.objects.none()
    serializer_class = QualificationRequirementSerializer
    filterset_fields = ["project", "qualification_type", "comparator"]

    def visible_queryset(self):
        projects = access.project_list_visible_for(self.request.user)
        return QualificationRequirement.objects.filter(project__in=projects).order_by("id")

    def can_change(self, obj) -> bool:
        return access.can_manage_project(self.request.user, obj.project)

    def perform_create(self, serializer):
        data = serializer.validated_data
        access.access_project_for_manage(self.request.user, data["project"].pk)
        serializer.instance = services.requirement_create(**data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        for name in ("project", "qualification_type"):
            if data.pop(name, getattr(serializer.instance, name)) != getattr(
                serializer.instance, name
            ):
                raise InvalidInput(f"{name} of a requirement cannot change; create another")
        serializer.instance = services.requirement_update(requirement=serializer.instance, **data)


class QualificationGrantViewSet(ScopedViewSet):
    """Grants: workers read their own, managers those of their types; managers grant and revoke
    (a grant of an already-held type changes its value)."""

    queryset = QualificationGrant.objects.none()
    serializer_class = QualificationGrantSerializer
    filterset_fields = ["worker", "qualification_type"]

    def visible_queryset(self):
        return selectors.grant_list_visible_for(user=self.request.user).order_by("id")

    @extend_schema(
        request=QualificationGrantCreateSerializer, responses={201: QualificationGrantSerializer}
    )
    def create(self, request, *args, **kwargs):
        data = _validated(QualificationGrantCreateSerializer, request.data)
        grant = services.qualification_grant(actor=request.user, **data)
        return Response(QualificationGrantSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=QualificationRevokeSerializer, responses=QualificationGrantSerializer)
    @action(detail=False, methods=["post"])
    def revoke(self, request):
        data = _validated(QualificationRevokeSerializer, request.data)
        grant = services.qualification_revoke(actor=request.user, **data)
        return Response(QualificationGrantSerializer(grant).data)


def _int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer id") from None


class QualificationEventViewSet(ScopedViewSet):
    """The qualification audit trail, oldest first; filter with ``?worker=<id>&type=<id>``."""

    queryset = QualificationEvent.objects.none()
    serializer_class = QualificationEventSerializer
    extra_query_params = ("worker", "type")

    def visible_queryset(self):
        events = selectors.event_list_visible_for(user=self.request.user)
        worker, qualification_type = (
            _int_param(self.request, "worker"),
            _int_param(self.request, "type"),
        )
        if worker is not None:
            events = events.filter(grant__worker_id=worker)
        if qualification_type is not None:
            events = events.filter(grant__qualification_type_id=qualification_type)
        return events.order_by("id")
