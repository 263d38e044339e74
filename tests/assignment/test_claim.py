"""The claim service: one task at a time, to the right worker, in the right order."""

import pytest
from django.utils import timezone

from crowd.assignment.models import Assignment
from crowd.common.exceptions import Forbidden, NotFound, NothingForYou
from crowd.qualifications.services import qualification_type_create, requirement_create
from tests import factories
from workflows.pipeline.claims import assignment_claim_next
from workflows.pipeline.leases import block_create

pytestmark = pytest.mark.django_db


def claim(worker, project):
    return assignment_claim_next(worker=worker, project_id=project.pk)


def refusal(worker, project) -> NothingForYou:
    with pytest.raises(NothingForYou) as caught:
        claim(worker, project)
    return caught.value


def gold_answer(project):
    category = project.label_schema.categories.first()
    return {"regions": [{"category_id": category.pk, "bbox": [1, 1, 10, 10]}]}


def test_claim_leases_one_item_and_takes_a_slot(project, wendy):
    item = factories.make_item(project=project)
    result = claim(wendy, project)
    assert result.created and result.assignment.item == item
    assert result.assignment.status == "leased"
    assert result.assignment.lease_expires_at > timezone.now()
    item.refresh_from_db()
    assert item.slots_taken == 1


def test_asking_again_with_a_live_lease_returns_the_same_lease(project, wendy):
    factories.make_item(project=project)
    factories.make_item(project=project)
    first = claim(wendy, project)
    again = claim(wendy, project)
    assert not again.created and again.assignment.pk == first.assignment.pk
    assert Assignment.objects.count() == 1


def test_claim_skips_items_already_labeled_by_worker(project, wendy):
    done, fresh = factories.make_item(project=project), factories.make_item(project=project)
    factories.make_assignment(item=done, worker=wendy, status="submitted")
    assert claim(wendy, project).assignment.item == fresh


def test_full_items_are_not_handed_out(project, wendy):
    item = factories.make_item(project=project)
    for _ in range(item.labels_wanted):
        factories.make_assignment(item=item, worker=factories.make_user(), status="submitted")
        type(item).objects.filter(pk=item.pk).update(
            slots_taken=item.slots_taken + 1, slots_funded=item.slots_taken + 1
        )
        item.refresh_from_db()
    assert refusal(wendy, project).reason == "nothing_left"


def test_higher_priority_then_nearer_completion_first(project, wendy):
    low = factories.make_item(project=project)
    nearly_done = factories.make_item(project=project)
    urgent = factories.make_item(project=project)
    type(urgent).objects.filter(pk=urgent.pk).update(priority=5)
    factories.make_assignment(item=nearly_done, worker=factories.make_user(), status="submitted")
    type(nearly_done).objects.filter(pk=nearly_done.pk).update(slots_taken=1, slots_funded=1)
    order = []
    for _ in range(3):
        result = claim(wendy, project)
        order.append(result.assignment.item_id)
        Assignment.objects.filter(pk=result.assignment.pk).update(
            status="submitted", submitted_at=timezone.now()
        )
    assert order == [urgent.pk, nearly_done.pk, low.pk]


@pytest.mark.parametrize("status", ["draft", "paused", "completed", "archived"])
def test_inactive_project_gives_nothing(project, wendy, status):
    factories.make_item(project=project)
    type(project).objects.filter(pk=project.pk).update(status=status)
    assert refusal(wendy, project).reason == "project_not_active"


def test_deadline_passed_gives_nothing(project, wendy):
    factories.make_item(project=project)
    type(project).objects.filter(pk=project.pk).update(deadline=timezone.now())
    assert refusal(wendy, project).reason == "deadline_passed"


def test_blocked_worker_gets_nothing_with_the_reason(project, alice, wendy):
    factories.make_item(project=project)
    block_create(worker=wendy, project=project, reason="copied answers", actor=alice)
    error = refusal(wendy, project)
    assert error.reason == "blocked" and "copied answers" in error.message


def test_globally_blocked_worker_gets_nothing_anywhere(project, alice, wendy):
    factories.make_item(project=project)
    block_create(worker=wendy, reason="fraud", actor=alice)
    assert refusal(wendy, project).reason == "blocked"


def test_unqualified_worker_is_told_which_requirement_fails(project, alice, wendy):
    factories.make_item(project=project)
    skill = qualification_type_create(owner=alice, name="Birds expert")
    requirement_create(project=project, qualification_type=skill, comparator="gte", value=80)
    error = refusal(wendy, project)
    assert error.reason == "not_qualified" and "Birds expert" in error.message
    assert error.details["unmet"] == [skill.pk]


def test_auto_granted_qualification_lets_a_new_worker_in(project, alice, wendy):
    factories.make_item(project=project)
    training = qualification_type_create(
        owner=alice, name="Training", auto_grant=True, auto_grant_value=1
    )
    requirement_create(project=project, qualification_type=training, comparator="exists")
    assert claim(wendy, project).created
    assert wendy.qualification_grants.get(qualification_type=training).value == 1


def test_budget_spent_refuses_new_leases(alice, wendy):
    project = factories.make_project(owner=alice, reward_minor=5, budget_minor=10)
    for _ in range(3):
        factories.make_item(project=project)
    for _ in range(2):
        factories.make_assignment(
            item=factories.make_item(project=project), worker=factories.make_user(),
            status="approved",
        )  # fmt: skip
    assert refusal(wendy, project).reason == "budget_spent"


def test_gold_items_are_mixed_in_at_the_project_rate(alice):
    project = factories.make_project(owner=alice, gold_rate=0.3, min_redundancy=1, max_redundancy=1)
    for _ in range(80):  # enough regular items that no draw can run them out
        factories.make_item(project=project)
    for _ in range(40):
        factories.make_item(project=project, gold_answer=gold_answer(project))
    gold_seen = 0
    for _ in range(6):
        worker = factories.make_user()
        for _ in range(10):
            result = claim(worker, project)
            gold_seen += result.assignment.item.is_gold
            Assignment.objects.filter(pk=result.assignment.pk).update(
                status="submitted", submitted_at=timezone.now()
            )
    assert 8 <= gold_seen <= 30  # 60 draws at 0.3: mean 18


def test_gold_items_do_not_take_slots(alice):
    project = factories.make_project(owner=alice, gold_rate=0.99)
    gold = factories.make_item(project=project, gold_answer=gold_answer(project))
    assert claim(factories.make_gold_turn_worker(project), project).assignment.item == gold
    gold.refresh_from_db()
    assert gold.slots_taken == 0


def test_non_workers_cannot_claim(project, alice, aldo, rita):
    factories.make_item(project=project)
    for user in (alice, aldo, rita):
        with pytest.raises(Forbidden):
            claim(user, project)


def test_unknown_project_is_not_found(wendy):
    with pytest.raises(NotFound):
        assignment_claim_next(worker=wendy, project_id=987654)


def test_expired_live_lease_is_expired_on_the_next_claim(project, wendy):
    first_item, second_item = (
        factories.make_item(project=project),
        factories.make_item(project=project),
    )
    first = claim(wendy, project).assignment
    Assignment.objects.filter(pk=first.pk).update(
        lease_expires_at=timezone.now() - timezone.timedelta(seconds=1),
        leased_at=timezone.now() - timezone.timedelta(minutes=20),
    )
    second = claim(wendy, project)
    assert second.created and second.assignment.item == second_item
    first.refresh_from_db()
    first_item.refresh_from_db()
    assert first.status == "expired" and first_item.slots_taken == 0
