"""Review and budget API: approve, reject, reverse, appeal and answer; read and set budgets.

Thin: parse the body, ask ``access``, call one service, render. Work you may not see is a
404 here, before the service checks who may decide it.
"""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from crowd.accounts import access
from crowd.assignment.selectors import (
    access_assignment_for_worker_act,
    assignment_list_visible_for,
)
from crowd.assignment.serializers import AssignmentSerializer
from crowd.common.exceptions import NotFound

from . import budget, review
from .review_serializers import (
    AppealAnswerSerializer,
    AppealCreateSerializer,
    AppealSerializer,
    BudgetSerializer,
    BudgetSetSerializer,
    RejectSerializer,
    ReviewIdsSerializer,
    ReviewReportSerializer,
)


def _body(serializer_class, request):
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _check_visible(user, ids) -> None:
    """NotFound for any assignment the user may not see; the service then refuses (Forbidden)
    the ones they see but may not decide."""
    wanted = review.ids_parse(ids)
    seen = set(assignment_list_visible_for(user).filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in seen]
    if missing:
        raise NotFound(f"no assignment {missing[0]}", details={"missing": missing})


class AssignmentApproveApi(APIView):
    """Approve (and pay) submitted assignments of your projects, all or none. Repeats of an
    approval come back in ``unchanged``."""

    @extend_schema(request=ReviewIdsSerializer, responses=ReviewReportSerializer)
    def post(self, request):
        data = _body(ReviewIdsSerializer, request)
        _check_visible(request.user, data["ids"])
        report = review.assignment_approve(ids=data["ids"], actor=request.user)
        return Response(asdict(report))


class AssignmentRejectApi(APIView):
    """Reject submitted assignments with a reason the worker sees, all or none."""

    @extend_schema(request=RejectSerializer, responses=ReviewReportSerializer)
    def post(self, request):
        data = _body(RejectSerializer, request)
        _check_visible(request.user, data["ids"])
        report = review.assignment_reject(
            ids=data["ids"], actor=request.user, reason=data["reason"]
        )
        return Response(asdict(report))


class AssignmentReverseApi(APIView):
    """Reverse a rejection within the project's window: the work is approved and paid."""

    @extend_schema(request=None, responses=AssignmentSerializer)
    def post(self, request, assignment_id: int):
        _check_visible(request.user, [assignment_id])
        assignment = review.assignment_rejection_reverse(
            assignment_id=assignment_id, actor=request.user
        )
        return Response(AssignmentSerializer(assignment).data)


class AssignmentAppealApi(APIView):
    """A worker appeals a rejection of their work, once, with a message."""

    @extend_schema(request=AppealCreateSerializer, responses={201: AppealSerializer})
    def post(self, request, assignment_id: int):
        access_assignment_for_worker_act(request.user, assignment_id)
        data = _body(AppealCreateSerializer, request)
        appeal = review.appeal_create(
            worker=request.user, assignment_id=assignment_id, message=data["message"]
        )
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)


class AppealAnswerApi(APIView):
    """The manager's final answer to an appeal: ``upheld`` or ``reversed`` (approved, paid)."""

    @extend_schema(request=AppealAnswerSerializer, responses=AppealSerializer)
    def post(self, request, appeal_id: int):
        data = _body(AppealAnswerSerializer, request)
        # An appeal is as visible as the work it is about.
        if not assignment_list_visible_for(request.user).filter(appeal__pk=appeal_id).exists():
            raise NotFound(f"no appeal {appeal_id}")
        appeal = review.appeal_answer(
            appeal_id=appeal_id, actor=request.user, outcome=data["outcome"], answer=data["answer"]
        )
        return Response(AppealSerializer(appeal).data)


class ProjectBudgetApi(APIView):
    """GET: funded, reserved, spent and available budget (owner, operators, auditors).
    POST ``{"budget_minor": N}``: set the authorised budget and fund it (owner, operators).
    Everyone else gets a 404: seeing a project is not seeing its money."""

    @extend_schema(responses=BudgetSerializer)
    def get(self, request, project_id: int):
        project = access.access_project_for_budget(request.user, project_id)
        return Response(asdict(budget.budget_summary(project=project)))

    @extend_schema(request=BudgetSetSerializer, responses=BudgetSerializer)
    def post(self, request, project_id: int):
        project = access.access_project_for_budget(request.user, project_id, change=True)
        data = _body(BudgetSetSerializer, request)
        summary = budget.budget_set(
            project=project, budget_minor=data["budget_minor"], actor=request.user
        )
        return Response(asdict(summary))
