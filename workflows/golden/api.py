"""Golden pipeline API: the review queue, review decisions, and provenance reads."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from crowd.accounts import access
from crowd.common.api import ScopedViewSet
from workflows.pipeline.consensus import review_decide

from . import selectors
from .models import ConsensusResult, GoldenAnnotation
from .serializers import (
    ConsensusResultSerializer,
    GoldenAnnotationSerializer,
    ReviewDecisionSerializer,
    ReviewItemSerializer,
)


class ReviewQueueApi(APIView):
    """Escalated items of a project with every candidate label, for its reviewers (its manager
    and auditors may watch)."""

    @extend_schema(responses=ReviewItemSerializer(many=True))
    def get(self, request, project_id: int):
        project = access.access_project_for_review_queue(request.user, project_id)
        return Response(selectors.review_queue_for(project=project))


class ReviewDecideApi(APIView):
    """A reviewer accepts a candidate, submits an edited label, or rejects the item."""

    @extend_schema(request=ReviewDecisionSerializer, responses={201: GoldenAnnotationSerializer})
    def post(self, request, item_id: int):
        access.access_item_for_review(request.user, item_id)
        body = ReviewDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        golden = review_decide(reviewer=request.user, item_id=item_id, **body.validated_data)
        if golden is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(GoldenAnnotationSerializer(golden).data, status=status.HTTP_201_CREATED)


class GoldenAnnotationViewSet(ScopedViewSet):
    """Trusted labels with their provenance (consensus result, source answers, reviewer)."""

    queryset = GoldenAnnotation.objects.none()
    serializer_class = GoldenAnnotationSerializer
    filterset_fields = ["project", "item"]

    def visible_queryset(self):
        return (
            selectors.golden_annotation_list_visible_for(self.request.user)
            .prefetch_related("consensus_result__annotations")
            .order_by("pk")
        )

    def can_change(self, obj) -> bool:
        return False


class ConsensusResultViewSet(ScopedViewSet):
    queryset = ConsensusResult.objects.none()
    serializer_class = ConsensusResultSerializer
    filterset_fields = ["item", "decision"]

    def visible_queryset(self):
        return (
            selectors.consensus_result_list_visible_for(self.request.user)
            .prefetch_related("annotations")
            .order_by("pk")
        )

    def can_change(self, obj) -> bool:
        return False
