"""Budgets: funded lazily up to the authorised amount, reserved per lease, released when a
lease ends or work is rejected, refused when spent."""

import pytest
from django.utils import timezone

from crowd.assignment.services import (
    assignment_expire_overdue,
    assignment_return,
    block_create,
)
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NothingForYou
from crowd.pay.budget import budget_fund, budget_set, budget_summary
from crowd.pay.ledger import books_total
from crowd.pay.models import EntryKind, LedgerEntry
from crowd.pay.review import assignment_approve, assignment_reject
from tests import factories
from tests.pay.review_support import (
    available,
    claim,
    entries,
    paid_project,
    reserved,
    submitted,
)


def test_first_claim_funds_the_budget_and_reserves_the_reward(alice, wendy):
    project = paid_project(alice, reward=10, budget=1000)
    assignment = claim(wendy, project)
    assert entries(EntryKind.RESERVE, assignment) == 1
    assert reserved(project) == 10 and available(project) == 990
    summary = budget_summary(project=project)
    assert (summary.funded_minor, summary.reserved_minor, summary.spent_minor) == (1000, 10, 0)
    assert books_total() == 0


def test_a_spent_budget_refuses_new_leases(alice):
    project = paid_project(alice, reward=10, budget=20, items=5)
    first, second, third = (factories.make_user() for _ in range(3))
    claim(first, project)
    claim(second, project)
    with pytest.raises(NothingForYou) as caught:
        claim(third, project)
    assert caught.value.reason == "budget_spent"
    assert available(project) == 0 and reserved(project) == 20


def test_a_spent_budget_gives_409_nothing_for_you_budget_spent(alice, api):
    project = paid_project(alice, reward=10, budget=10, items=2)
    claim(factories.make_user(), project)
    response = api(factories.make_user()).post(f"/api/v1/projects/{project.pk}/assignments/next/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "nothing_for_you"
    assert response.json()["error"]["details"]["reason"] == "budget_spent"


def test_gold_items_cost_a_reward_too(alice, wendy):
    project = factories.make_project(owner=alice, reward_minor=7, budget_minor=100, gold_rate=0.0)
    gold = {"regions": []}
    factories.make_item(project=project, gold_answer=gold)
    project.gold_rate = 0.99
    project.save(update_fields=["gold_rate"])
    assignment = claim(wendy, project)
    assert assignment.item.is_gold
    assert reserved(project) == 7


def test_a_free_project_writes_no_ledger_entries(alice, wendy):
    project = paid_project(alice, reward=0, budget=0)
    claim(wendy, project)
    assert not LedgerEntry.objects.exists()


def test_expiry_releases_the_reservation(alice, wendy):
    project = paid_project(alice, reward=10, budget=100)
    assignment = claim(wendy, project)
    assert assignment_expire_overdue(now=timezone.now() + timezone.timedelta(days=1)) == 1
    assert entries(EntryKind.RELEASE, assignment) == 1
    assert available(project) == 100 and reserved(project) == 0
    assignment_expire_overdue(now=timezone.now() + timezone.timedelta(days=2))
    assert entries(EntryKind.RELEASE, assignment) == 1


def test_return_and_block_release_the_reservation(alice, bob, wendy):
    project = paid_project(alice, reward=10, budget=100)
    assignment = claim(wendy, project)
    assignment_return(worker=wendy, assignment_id=assignment.pk)
    assert available(project) == 100
    other = factories.make_user()
    claim(other, project)
    block_create(worker=other, reason="spam", actor=alice, project=project)
    assert available(project) == 100 and reserved(project) == 0
    assert books_total() == 0


def test_rejection_releases_and_approval_pays_from_the_reservation(alice):
    project = paid_project(alice, reward=10, budget=100)
    good, bad = submitted(factories.make_user(), project), submitted(factories.make_user(), project)
    assignment_approve(assignments=[good.pk], actor=alice)
    assignment_reject(ids=[bad.pk], actor=alice, reason="boxes are empty")
    summary = budget_summary(project=project)
    assert (summary.spent_minor, summary.reserved_minor, summary.available_minor) == (10, 0, 90)
    assert entries(EntryKind.RELEASE, bad) == 1 and entries(EntryKind.REWARD, good) == 1


def test_raising_the_budget_lets_claims_continue(alice):
    project = paid_project(alice, reward=10, budget=10, items=3)
    claim(factories.make_user(), project)
    with pytest.raises(NothingForYou):
        claim(factories.make_user(), project)
    budget_set(project=project, budget_minor=30, actor=alice)
    claim(factories.make_user(), project)
    assert budget_summary(project=project).funded_minor == 30


def test_a_budget_raised_on_the_project_row_is_funded_at_the_next_tight_claim(alice):
    project = paid_project(alice, reward=10, budget=10, items=3)
    claim(factories.make_user(), project)
    project.budget_minor = 20
    project.save(update_fields=["budget_minor"])
    claim(factories.make_user(), project)
    assert budget_fund(project=project) == 0  # already done by the claim
    assert budget_summary(project=project).funded_minor == 20


def test_lowering_the_budget_below_what_is_committed_is_refused(alice, wendy):
    project = paid_project(alice, reward=10, budget=100)
    claim(wendy, project)
    with pytest.raises(Conflict):
        budget_set(project=project, budget_minor=5, actor=alice)
    summary = budget_set(project=project, budget_minor=10, actor=alice)
    assert (summary.funded_minor, summary.available_minor) == (10, 0)
    assert books_total() == 0


@pytest.mark.parametrize("amount", [-1, "-5", "ten", 2.5, True, None, "1e3"])
def test_bad_budget_amounts_are_refused_and_nothing_is_written(alice, amount):
    project = paid_project(alice)
    with pytest.raises(InvalidInput):
        budget_set(project=project, budget_minor=amount, actor=alice)
    assert not LedgerEntry.objects.exists()


def test_only_the_owner_or_an_operator_sets_a_budget(alice, bob):
    project = paid_project(alice)
    with pytest.raises(Forbidden):
        budget_set(project=project, budget_minor=10, actor=bob)
    operator = factories.make_user("olga", role="manager", is_staff=True)
    assert budget_set(project=project, budget_minor=10, actor=operator).funded_minor == 10


def test_work_leased_before_budgets_counts_against_the_budget(alice, wendy):
    project = paid_project(alice, reward=5, budget=10, items=1)
    for _ in range(2):
        factories.make_assignment(
            item=factories.make_item(project=project), worker=factories.make_user(),
            status="approved",
        )  # fmt: skip
    with pytest.raises(NothingForYou) as caught:
        claim(wendy, project)
    assert caught.value.reason == "budget_spent"
