"""Budgets: funded lazily up to the authorised amount, held per label slot before anyone
claims it (per lease for gold), released when a slot is freed, refused when spent."""

import pytest
from django.utils import timezone

from crowd.assignment.models import Assignment
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NothingForYou
from crowd.pay.budget import budget_fund, budget_set, budget_summary
from crowd.pay.funding import slots_fund_all_due
from crowd.pay.ledger import books_total
from crowd.pay.models import EntryKind, LedgerEntry
from crowd.pay.review import assignment_approve, assignment_reject
from tests import factories
from tests.pay.review_support import (
    assert_reserve_matches,
    available,
    claim,
    entries,
    paid_project,
    reserved,
    submitted,
)
from workflows.pipeline.leases import assignment_expire_overdue, assignment_return, block_create
from workflows.projects.models import Item
from workflows.projects.services import project_update


def slots(project) -> list[tuple[int, int, int]]:
    """(funded, taken, reward) per item, in id order."""
    return list(
        Item.objects.filter(project=project)
        .order_by("pk")
        .values_list("slots_funded", "slots_taken", "slot_reward_minor")
    )


def test_first_claim_funds_every_open_slot_and_takes_one(alice, wendy):
    project = paid_project(alice, reward=10, budget=1000, items=3)
    assignment = claim(wendy, project)
    assert assignment.funded_minor == 10
    assert entries(EntryKind.RESERVE, assignment) == 0  # the slot's reward was held already
    funding = LedgerEntry.objects.get(kind=EntryKind.RESERVE)
    assert (funding.amount_minor, funding.assignment_id) == (30, None)
    assert reserved(project) == 30 and available(project) == 970
    summary = budget_summary(project=project)
    assert (summary.funded_minor, summary.reserved_minor, summary.spent_minor) == (1000, 30, 0)
    assert_reserve_matches(project)
    assert books_total() == 0


def test_later_claims_write_nothing_to_the_ledger(alice):
    project = paid_project(alice, reward=10, budget=1000, items=3, redundancy=2)
    claim(factories.make_user(), project)
    written = LedgerEntry.objects.count()
    for _ in range(5):
        claim(factories.make_user(), project)
    assert LedgerEntry.objects.count() == written
    assert [taken for _, taken, _ in slots(project)] == [2, 2, 2]
    assert_reserve_matches(project)


def test_a_spent_budget_refuses_new_leases(alice):
    project = paid_project(alice, reward=10, budget=20, items=5)
    first, second, third = (factories.make_user() for _ in range(3))
    claim(first, project)
    claim(second, project)
    with pytest.raises(NothingForYou) as caught:
        claim(third, project)
    assert caught.value.reason == "budget_spent"
    assert available(project) == 0 and reserved(project) == 20
    assert_reserve_matches(project)


def test_a_spent_budget_gives_409_nothing_for_you_budget_spent(alice, api):
    project = paid_project(alice, reward=10, budget=10, items=2)
    claim(factories.make_user(), project)
    response = api(factories.make_user()).post(f"/api/v1/projects/{project.pk}/assignments/next/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "nothing_for_you"
    assert response.json()["error"]["details"]["reason"] == "budget_spent"


def test_a_short_budget_funds_slots_in_claim_order(alice):
    project = paid_project(alice, reward=10, budget=40, items=0, redundancy=3)
    low, high, middle = (factories.make_item(project=project) for _ in range(3))
    for item, priority in ((high, 5), (middle, 1)):
        Item.objects.filter(pk=item.pk).update(priority=priority)
    claim(factories.make_user(), project)
    funded = dict(Item.objects.values_list("pk", "slots_funded"))
    assert (funded[high.pk], funded[middle.pk], funded[low.pk]) == (3, 1, 0)
    assert_reserve_matches(project)


def test_gold_items_cost_a_reward_too(alice):
    project = factories.make_project(owner=alice, reward_minor=7, budget_minor=100, gold_rate=0.0)
    gold = {"regions": []}
    factories.make_item(project=project, gold_answer=gold)
    project.gold_rate = 0.99
    project.save(update_fields=["gold_rate"])
    assignment = claim(factories.make_gold_turn_worker(project), project)
    assert assignment.item.is_gold
    assert entries(EntryKind.RESERVE, assignment) == 1
    assert reserved(project) == 7
    assert_reserve_matches(project)


def test_a_free_project_writes_no_ledger_entries(alice, wendy):
    project = paid_project(alice, reward=0, budget=0)
    claim(wendy, project)
    assert not LedgerEntry.objects.exists()


def test_expiry_unfunds_the_slot_and_releases_its_reward(alice, wendy):
    project = paid_project(alice, reward=10, budget=100, items=3)
    assignment = claim(wendy, project)
    assert assignment_expire_overdue(now=timezone.now() + timezone.timedelta(days=1)) == 1
    assert entries(EntryKind.RELEASE, assignment) == 1
    assert available(project) == 80 and reserved(project) == 20
    assert slots(project)[0] == (0, 0, 10)
    assignment_expire_overdue(now=timezone.now() + timezone.timedelta(days=2))
    assert entries(EntryKind.RELEASE, assignment) == 1
    assert_reserve_matches(project)
    claim(factories.make_user(), project)  # the freed slot is funded again when wanted
    assert_reserve_matches(project)


def test_return_and_block_release_the_reward(alice, bob, wendy):
    project = paid_project(alice, reward=10, budget=100, items=3)
    assignment = claim(wendy, project)
    assignment_return(worker=wendy, assignment_id=assignment.pk)
    assert available(project) == 80
    other = factories.make_user()
    claim(other, project)
    block_create(worker=other, reason="spam", actor=alice, project=project)
    assert available(project) == 90 and reserved(project) == 10
    assert_reserve_matches(project)
    assert books_total() == 0


def test_rejection_releases_and_approval_pays_from_the_reserve(alice):
    project = paid_project(alice, reward=10, budget=100, items=3)
    good, bad = submitted(factories.make_user(), project), submitted(factories.make_user(), project)
    assignment_approve(ids=[good.pk], actor=alice)
    assignment_reject(ids=[bad.pk], actor=alice, reason="boxes are empty")
    summary = budget_summary(project=project)
    assert (summary.spent_minor, summary.reserved_minor, summary.available_minor) == (10, 10, 80)
    assert entries(EntryKind.RELEASE, bad) == 1 and entries(EntryKind.REWARD, good) == 1
    assert_reserve_matches(project)


def test_a_reward_change_reprices_untaken_slots_and_keeps_taken_ones(alice):
    project = paid_project(alice, reward=10, budget=100, items=3)
    before = submitted(factories.make_user(), project)
    project_update(project=project, reward_minor=20)
    after = claim(factories.make_user(), project)
    assert (before.funded_minor, after.funded_minor) == (10, 20)
    assert sorted(slots(project)) == [(1, 0, 20), (1, 1, 10), (1, 1, 20)]
    assert reserved(project) == 50 and available(project) == 50
    assert_reserve_matches(project)
    assignment_approve(ids=[before.pk], actor=alice)
    assert LedgerEntry.objects.get(kind=EntryKind.REWARD).amount_minor == 10
    assert_reserve_matches(project)


def test_beat_funds_raised_redundancy_and_unfunds_projects_that_are_over(alice, wendy):
    project = paid_project(alice, reward=10, budget=100, items=2, redundancy=1)
    claim(wendy, project)
    project_update(project=project, min_redundancy=2, max_redundancy=2)
    assert slots_fund_all_due() == 2
    assert [funded for funded, _, _ in slots(project)] == [2, 2]
    assert slots_fund_all_due() == 0  # nothing left to do
    project_update(project=project, status="completed")
    slots_fund_all_due()
    assert [funded for funded, _, _ in slots(project)] == [1, 0]  # the live lease keeps its slot
    assert reserved(project) == 10
    assert_reserve_matches(project)


def test_raising_the_budget_lets_claims_continue(alice):
    project = paid_project(alice, reward=10, budget=10, items=3)
    claim(factories.make_user(), project)
    with pytest.raises(NothingForYou):
        claim(factories.make_user(), project)
    budget_set(project=project, budget_minor=30, actor=alice)
    claim(factories.make_user(), project)
    assert budget_summary(project=project).funded_minor == 30
    assert_reserve_matches(project)


def test_a_budget_raised_on_the_project_row_is_funded_at_the_next_claim_short_of_slots(alice):
    project = paid_project(alice, reward=10, budget=10, items=3)
    claim(factories.make_user(), project)
    project.budget_minor = 20
    project.save(update_fields=["budget_minor"])
    claim(factories.make_user(), project)
    assert budget_fund(project=project) == 0  # already done by the claim
    assert budget_summary(project=project).funded_minor == 20


def test_lowering_the_budget_below_what_is_committed_is_refused(alice, wendy):
    project = paid_project(alice, reward=10, budget=100, items=3)
    claim(wendy, project)
    with pytest.raises(Conflict) as caught:
        budget_set(project=project, budget_minor=5, actor=alice)
    assert caught.value.details == {"committed_minor": 10}  # the live lease; untaken slots not
    assert reserved(project) == 30  # the refusal changed nothing
    summary = budget_set(project=project, budget_minor=10, actor=alice)
    assert (summary.funded_minor, summary.available_minor, summary.reserved_minor) == (10, 0, 10)
    assert_reserve_matches(project)
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
    assert not Assignment.objects.filter(worker=wendy).exists()
