"""Helpers for the review and budget tests, and a urlconf with the review routes as
crowd/api_v1.py wires them (``pytest.mark.urls("tests.pay.review_support")``)."""

from django.urls import include, path

from crowd.assignment.services import assignment_claim_next
from crowd.labeling.services import annotation_submit
from crowd.pay import review_api
from crowd.pay.ledger import account_for, balance
from crowd.pay.models import AccountKind, LedgerEntry
from crowd.urls import urlpatterns as site
from tests import factories

api = [
    path("assignments/approve/", review_api.AssignmentApproveApi.as_view()),
    path("assignments/reject/", review_api.AssignmentRejectApi.as_view()),
    path("assignments/<int:assignment_id>/reverse/", review_api.AssignmentReverseApi.as_view()),
    path("assignments/<int:assignment_id>/appeal/", review_api.AssignmentAppealApi.as_view()),
    path("appeals/<int:appeal_id>/answer/", review_api.AppealAnswerApi.as_view()),
    path("projects/<int:project_id>/budget/", review_api.ProjectBudgetApi.as_view()),
]
urlpatterns = [path("api/v1/", include(api)), *site]


def paid_project(owner, *, reward=10, budget=1000, items=3, redundancy=1, **fields):
    project = factories.make_project(
        owner=owner, reward_minor=reward, budget_minor=budget,
        min_redundancy=redundancy, max_redundancy=redundancy, **fields,
    )  # fmt: skip
    for _ in range(items):
        factories.make_item(project=project)
    return project


def answer(project, bbox=(1, 1, 10, 10)) -> dict:
    category = project.label_schema.categories.first().pk
    return {"regions": [{"category_id": category, "bbox": list(bbox)}]}


def claim(worker, project):
    return assignment_claim_next(worker=worker, project_id=project.pk).assignment


def submitted(worker, project, payload=None):
    """Claim and submit one task of ``project`` as ``worker``; the assignment, refreshed."""
    assignment = claim(worker, project)
    annotation_submit(
        worker=worker, assignment_id=assignment.pk, payload=payload or answer(project)
    )
    assignment.refresh_from_db()
    return assignment


def account(kind, project=None, worker=None, currency="USD"):
    return balance(account_for(kind=kind, currency=currency, project=project, worker=worker))


def available(project) -> int:
    return account(AccountKind.PROJECT_BUDGET, project=project)


def reserved(project) -> int:
    return account(AccountKind.PROJECT_RESERVED, project=project)


def payable(worker) -> int:
    return account(AccountKind.WORKER_PAYABLE, worker=worker)


def entries(kind, assignment) -> int:
    return LedgerEntry.objects.filter(kind=kind, assignment=assignment).count()
