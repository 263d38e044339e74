"""API of bonuses, payout batches, a worker's earnings and a project's costs: thin views over
``bonuses``, ``payouts`` and ``earnings``.

Money-moving POSTs take an idempotency key (the ``Idempotency-Key`` header or an
``idempotency_key`` field): a retried request returns the first response's object instead of
paying again.
"""

from dataclasses import asdict

from django.contrib.auth import get_user_model
from django.db.models import Count, Sum
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crowd.accounts import access
from workflows.projects.models import Project

from . import bonuses, earnings, payouts
from .models import BonusRule, PayoutBatch
from .payout_serializers import (
    BonusEntrySerializer,
    BonusGrantSerializer,
    BonusRuleSerializer,
    PayoutBatchCloseSerializer,
    PayoutBatchDetailSerializer,
    PayoutBatchMarkPaidSerializer,
    PayoutBatchSerializer,
    ProjectCostSerializer,
    WorkerEarningsSerializer,
)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A client-chosen key per intended payment; a retry with it pays once",
)


def idempotency_key(request, body: dict) -> str | None:
    header, field = request.headers.get("Idempotency-Key"), body.get("idempotency_key")
    if header and field and header != field:
        raise ValidationError({"idempotency_key": "differs from the Idempotency-Key header"})
    return header or field


class IsOperator(permissions.BasePermission):
    message = "only operators pay out the platform"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and access.is_operator(user))


class BonusGrantApi(APIView):
    """The project's owner (or an operator) pays a worker a bonus from the project's budget."""

    @extend_schema(
        request=BonusGrantSerializer,
        responses={201: BonusEntrySerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        body = BonusGrantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        key = idempotency_key(request, data)
        if not key:
            raise ValidationError(
                {"idempotency_key": "required: send an Idempotency-Key header or field"}
            )
        project = access.access_project(request.user, data["project"])
        if not access.can_manage_project(request.user, project):
            raise PermissionDenied("only the project's owner or an operator may grant bonuses")
        worker = get_user_model().objects.filter(pk=data["worker"]).first()
        if worker is None:
            raise ValidationError({"worker": "no such worker"})
        entry = bonuses.bonus_grant(
            project=project,
            worker=worker,
            amount_minor=data["amount_minor"],
            reason=data["reason"],
            actor=request.user,
            key=key,
        )
        # A replay answers exactly as the first request did (same status, same body).
        return Response(BonusEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class BonusRuleViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Automatic bonus rules of the projects whose costs the user may see; owners add rules."""

    queryset = BonusRule.objects.none()
    serializer_class = BonusRuleSerializer
    filterset_fields = ["project", "active"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        visible = access.project_list_reports_readable_by(self.request.user)
        return BonusRule.objects.filter(project__in=visible).order_by("pk")

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        project = access.access_project(request.user, data["project_id"])
        if not access.can_manage_project(request.user, project):
            raise PermissionDenied("only the project's owner or an operator may set bonus rules")
        rule = bonuses.bonus_rule_create(
            project=project,
            actor=request.user,
            amount_minor=data["amount_minor"],
            top_n=data.get("top_n", 3),
            period=data["period"],
            min_scored=data.get("min_scored", 5),
        )
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)


class PayoutBatchViewSet(viewsets.ReadOnlyModelViewSet):
    """Operators close batches, download them as CSV and record the provider's confirmation.

    Managers cannot: a batch pays every worker of the platform, across everyone's projects.
    """

    permission_classes = [IsOperator]
    serializer_class = PayoutBatchSerializer
    filterset_fields = ["currency", "status"]

    def get_queryset(self):
        batches = PayoutBatch.objects.annotate(
            line_count=Count("lines"), total_minor=Sum("lines__amount_minor")
        ).order_by("-pk")
        if self.action == "retrieve":
            batches = batches.prefetch_related("lines__worker")
        return batches

    def get_serializer_class(self):
        return PayoutBatchDetailSerializer if self.action == "retrieve" else PayoutBatchSerializer

    def _detail(self, batch: PayoutBatch, code: int) -> Response:
        fresh = self.get_queryset().prefetch_related("lines__worker").get(pk=batch.pk)
        return Response(PayoutBatchDetailSerializer(fresh).data, status=code)

    @extend_schema(
        request=PayoutBatchCloseSerializer,
        responses={201: PayoutBatchDetailSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def create(self, request):
        """Close a batch of every payable balance in ``currency`` (409 when nothing is owed)."""
        body = PayoutBatchCloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = payouts.payout_batch_close(
            currency=body.validated_data["currency"],
            actor=request.user,
            request_key=idempotency_key(request, body.validated_data),
        )
        return self._detail(batch, status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def csv(self, request, pk=None):
        batch = self.get_object()
        response = HttpResponse(payouts.payout_batch_csv(batch=batch), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="payout-batch-{batch.pk}.csv"'
        return response

    @extend_schema(
        request=PayoutBatchMarkPaidSerializer, responses={200: PayoutBatchDetailSerializer}
    )
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request, pk=None):
        """Record the transfer's confirmation; repeating it with the same reference is a no-op."""
        batch = self.get_object()
        body = PayoutBatchMarkPaidSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = payouts.payout_batch_mark_paid(
            batch=batch, actor=request.user, **body.validated_data
        )
        return self._detail(batch, status.HTTP_200_OK)


class MyEarningsApi(APIView):
    """The signed-in worker's pay: figures per currency and the newest rows of each kind."""

    @extend_schema(responses=WorkerEarningsSerializer)
    def get(self, request):
        figures = earnings.worker_earnings(worker=request.user)
        return Response(WorkerEarningsSerializer(asdict(figures)).data)


class ProjectCostsApi(APIView):
    """What a project spent (rewards and bonuses) per promoted item: owners and auditors;
    a 404 for everyone else (seeing a project is not seeing its money)."""

    @extend_schema(responses=ProjectCostSerializer)
    def get(self, request, project_id: int):
        project = access.access_project_for_reports(request.user, project_id)
        (cost,) = earnings.project_costs(projects=Project.objects.filter(pk=project.pk))
        return Response(ProjectCostSerializer(cost).data)
