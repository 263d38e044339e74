"""Review and budget API: approve, reject, reverse, appeal and answer; read and set budgets.

Thin: parse the body, call one service, render. The services check who may act.
"""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from crowd.accounts.selectors import project_list_visible_for
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


class AssignmentApproveApi(APIView):
    """Approve (and pay) submitted assignments of your projects, all or none. Repeats of an
    approval come back in ``unchanged``."""

    @extend_schema(request=ReviewIdsSerializer, responses=ReviewReportSerializer)
    def post(self, request):
        data = _body(ReviewIdsSerializer, request)
        report = review.assignment_approve(assignments=data["ids"], actor=request.user)
        return Response(asdict(report))


class AssignmentRejectApi(APIView):
    """Reject submitted assignments with a reason the worker sees, all or none."""

    @extend_schema(request=RejectSerializer, responses=ReviewReportSerializer)
    def post(self, request):
        data = _body(RejectSerializer, request)
        report = review.assignment_reject(
            ids=data["ids"], actor=request.user, reason=data["reason"]
        )
        return Response(asdict(report))


class AssignmentReverseApi(APIView):
    """Reverse a rejection within the project's window: the work is approved and paid."""

    @extend_schema(request=None, responses=AssignmentSerializer)
    def post(self, request, assignment_id: int):
        assignment = review.assignment_rejection_reverse(
            assignment_id=assignment_id, actor=request.user
        )
        return Response(AssignmentSerializer(assignment).data)


class AssignmentAppealApi(APIView):
    """A worker appeals a rejection of their work, once, with a message."""

    @extend_schema(request=AppealCreateSerializer, responses={201: AppealSerializer})
    def post(self, request, assignment_id: int):
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
        appeal = review.appeal_answer(
            appeal_id=appeal_id, actor=request.user, outcome=data["outcome"], answer=data["answer"]
        )
        return Response(AppealSerializer(appeal).data)


class ProjectBudgetApi(APIView):
    """GET: funded, reserved, spent and available budget (owner, operators, auditors).
    POST ``{"budget_minor": N}``: set the authorised budget and fund it (owner, operators)."""

    def _project(self, request, project_id: int):
        project = project_list_visible_for(request.user).filter(pk=project_id).first()
        if project is None or request.user.role == "worker":
            raise NotFound(f"no project {project_id}")
        return project

    @extend_schema(responses=BudgetSerializer)
    def get(self, request, project_id: int):
        project = self._project(request, project_id)
        return Response(asdict(budget.budget_summary(project=project)))

    @extend_schema(request=BudgetSetSerializer, responses=BudgetSerializer)
    def post(self, request, project_id: int):
        project = self._project(request, project_id)
        data = _body(BudgetSetSerializer, request)
        summary = budget.budget_set(
            project=project, budget_minor=data["budget_minor"], actor=request.user
        )
        return Response(asdict(summary))
