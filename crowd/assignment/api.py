"""Assignment API: claim the next item, work on the lease, and managers' blocks."""

from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from crowd.accounts import access
from crowd.common.api import ScopedViewSet
from crowd.labeling.serializers import AnnotationSerializer
from workflows.pipeline import claims, leases
from workflows.pipeline.submit import annotation_submit

from . import services
from .models import Assignment, Block
from .selectors import (
    access_assignment_for_worker_act,
    assignment_list_visible_for,
    block_list_visible_for,
    lease_brief,
)
from .serializers import (
    AssignmentSerializer,
    BlockSerializer,
    LeaseSerializer,
    SubmitSerializer,
    lease_data,
)


class AssignmentClaimNextApi(APIView):
    """Lease the next item of a project: 201 with a new lease, 200 with the live one you hold,
    409 ``nothing_for_you`` with ``details.reason`` (project_not_active, deadline_passed,
    blocked, not_qualified, budget_spent, test_not_started, nothing_left, try_again)."""

    @extend_schema(request=None, responses={200: LeaseSerializer, 201: LeaseSerializer})
    def post(self, request, project_id: int):
        if not access.can_take_tasks(request.user):
            # Workers go straight to the claim (no query here: this is the hot path).
            access.access_project(request.user, project_id)
            access.check_can_take_tasks(request.user)
        result = claims.assignment_claim_next(
            worker=request.user, project_id=project_id, with_brief=True
        )
        return Response(
            lease_data(result.assignment, result.brief or lease_brief(result.assignment)),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class AssignmentViewSet(ScopedViewSet):
    queryset = Assignment.objects.none()
    serializer_class = AssignmentSerializer
    filterset_fields = ["project", "status", "worker"]
    ordering_fields = ["id", "leased_at", "submitted_at"]
    read_actions = ("list", "retrieve", "image")

    def visible_queryset(self):
        return assignment_list_visible_for(self.request.user).order_by("id")

    def can_change(self, obj) -> bool:
        return False

    @extend_schema(request=SubmitSerializer, responses={201: AnnotationSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit the answer for your live lease. Repeating the same answer returns the first
        result (200); a different answer for a submitted assignment is a 409."""
        access_assignment_for_worker_act(request.user, int(pk))
        body = SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = annotation_submit(
            worker=request.user, assignment_id=int(pk), payload=body.validated_data["payload"]
        )
        return Response(
            AnnotationSerializer(result.annotation).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses=AssignmentSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def give_back(self, request, pk=None):
        """Give your lease back unworked; the item goes back to the pool."""
        access_assignment_for_worker_act(request.user, int(pk))
        assignment = leases.assignment_return(worker=request.user, assignment_id=int(pk))
        return Response(AssignmentSerializer(assignment).data)

    @extend_schema(request=None, responses=LeaseSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        """Extend your lease by the project's lease length, up to its limit of extensions."""
        access_assignment_for_worker_act(request.user, int(pk))
        assignment = services.assignment_extend(worker=request.user, assignment_id=int(pk))
        return Response(LeaseSerializer(assignment).data)  # loaded with its brief

    @extend_schema(responses={(200, "image/*"): bytes})
    @action(detail=True, methods=["get"])
    def image(self, request, pk=None):
        """The image of the assignment's item, for whoever may see the assignment."""
        assignment = self.get_object()
        return FileResponse(assignment.item.image.open("rb"))


class BlockViewSet(mixins.CreateModelMixin, ScopedViewSet):
    """Managers block workers on their projects or everywhere, with a reason."""

    queryset = Block.objects.none()
    serializer_class = BlockSerializer
    filterset_fields = ["worker", "project"]

    def visible_queryset(self):
        return block_list_visible_for(self.request.user).order_by("id")

    def can_change(self, obj) -> bool:
        user = self.request.user
        if obj.project_id is None:
            return access.can_change_owned(user, owner_id=obj.created_by_id)
        return access.can_manage_project(user, obj.project)

    def perform_create(self, serializer):
        access.check_can_create_projects(self.request.user)
        data = serializer.validated_data
        project = data.get("project")
        if project is not None:
            project = access.access_project_for_manage(self.request.user, project.pk)
        serializer.instance = leases.block_create(
            worker=data["worker"], project=project, reason=data["reason"], actor=self.request.user
        )

    @extend_schema(request=None, responses=BlockSerializer)
    @action(detail=True, methods=["post"])
    def lift(self, request, pk=None):
        block = self.get_object()
        if not self.can_change(block):
            raise PermissionDenied("you may not lift this block")
        return Response(BlockSerializer(services.block_lift(block=block, actor=request.user)).data)
