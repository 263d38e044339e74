"""Helpers for the review and budget tests, and a urlconf with the review routes as
crowd/api_v1.py wires them (``pytest.mark.urls("tests.pay.review_support")``)."""

from django.db.models import F, Sum
from django.urls import include, path

from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.pay import review_api
from crowd.pay.ledger import account_for, balance
from crowd.pay.models import AccountKind, EntryKind, LedgerEntry
from crowd.urls import urlpatterns as site
from tests import factories
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.submit import annotation_submit
from workflows.projects.models import Item

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


def held_for(project) -> int:
    """What the project's reserve must hold, counted from the rows, not the ledger
    (crowd/pay/funding.py): funded untaken slots, plus every live or submitted assignment's
    reward (its funded slot's, or its own RESERVE entry's)."""
    untaken = Item.objects.filter(project=project).aggregate(
        s=Sum((F("slots_funded") - F("slots_taken")) * F("slot_reward_minor"))
    )["s"]
    pending = Assignment.objects.filter(
        project=project, status__in=[AssignmentStatus.LEASED, AssignmentStatus.SUBMITTED]
    )
    funded = pending.aggregate(s=Sum("funded_minor"))["s"]
    per_lease = LedgerEntry.objects.filter(
        kind=EntryKind.RESERVE, assignment__in=pending.filter(funded_minor__isnull=True)
    ).aggregate(s=Sum("amount_minor"))["s"]
    return (untaken or 0) + (funded or 0) + (per_lease or 0)


def assert_reserve_matches(project) -> None:
    assert reserved(project) == held_for(project)
