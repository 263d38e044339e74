"""Review services: approve, reject, reversal, appeals, automatic approval and auto-review."""

import pytest
from django.utils import timezone

from crowd.assignment.models import AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from crowd.pay.auto_review import assignments_auto_approve_due, assignments_auto_review_for_item
from crowd.pay.ledger import books_total
from crowd.pay.models import Appeal, EntryKind, ReviewDecision
from crowd.pay.review import (
    appeal_answer,
    appeal_create,
    assignment_approve,
    assignment_reject,
    assignment_rejection_reverse,
)
from crowd.pay.tasks import assignments_auto_approve_due_task
from tests import factories
from tests.pay.review_support import (
    answer,
    available,
    claim,
    entries,
    paid_project,
    payable,
    submitted,
)
from workflows.pipeline.consensus import item_promote
from workflows.projects.models import ItemState

LATER = timezone.timedelta(days=30)


def test_approving_pays_the_reward_once_and_records_the_decision(alice, wendy):
    project = paid_project(alice, reward=10)
    assignment = submitted(wendy, project)
    report = assignment_approve(ids=[assignment.pk], actor=alice)
    assert report.changed == [assignment.pk]
    again = assignment_approve(ids=[assignment.pk], actor=alice)  # a double click
    assert again.changed == [] and again.unchanged == [assignment.pk]
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED and assignment.reviewed_by == alice
    assert entries(EntryKind.REWARD, assignment) == 1 and payable(wendy) == 10
    decision = ReviewDecision.objects.get(assignment=assignment)
    assert (decision.decision, decision.automatic, decision.actor) == ("approve", False, alice)
    grants = {g.qualification_type.system: g.value for g in wendy.qualification_grants.all()}
    assert 100 in grants.values()  # approval rate refreshed
    assert books_total() == 0


def test_rejecting_needs_a_reason_frees_the_slot_and_shows_the_reason(alice, wendy):
    project = paid_project(alice, reward=10, items=1)
    assignment = submitted(wendy, project)
    item = assignment.item
    item.refresh_from_db()
    assert item.state == ItemState.CONSENSUS or item.slots_taken == 1
    with pytest.raises(InvalidInput):
        assignment_reject(ids=[assignment.pk], actor=alice, reason="  ")
    assignment_reject(ids=[assignment.pk], actor=alice, reason="the box misses the dog")
    assignment.refresh_from_db()
    item.refresh_from_db()
    assert assignment.reject_reason == "the box misses the dog"
    assert (item.slots_taken, item.state) == (0, ItemState.OPEN)
    assert claim(factories.make_user(), project).item_id == item.pk  # claimable again
    assert payable(wendy) == 0


def test_rejecting_work_on_a_promoted_item_keeps_its_golden_label(alice, wendy):
    project = paid_project(alice, items=1)
    assignment = submitted(wendy, project)
    item_promote(item=assignment.item, payload=answer(project), reviewer=alice)
    assignment_reject(ids=[assignment.pk], actor=alice, reason="wrong")
    assignment.item.refresh_from_db()
    assert assignment.item.state == ItemState.PROMOTED


def test_review_is_all_or_nothing_with_a_message_per_bad_id(alice, wendy):
    project = paid_project(alice, items=3)
    good = submitted(wendy, project)
    live = claim(factories.make_user(), project)
    with pytest.raises(Conflict) as caught:
        assignment_approve(ids=[good.pk, live.pk], actor=alice)
    assert str(live.pk) in caught.value.details["assignments"]
    good.refresh_from_db()
    assert good.status == AssignmentStatus.SUBMITTED and payable(wendy) == 0


def test_approving_a_returned_assignment_is_a_conflict(alice, wendy):
    project = paid_project(alice)
    returned = factories.make_assignment(
        item=project.items.first(), worker=wendy, status="returned"
    )
    with pytest.raises(Conflict, match="returned"):
        assignment_approve(ids=[returned.pk], actor=alice)


@pytest.mark.parametrize("ids", [[], None, "1", [0], [-3], ["x"], [1.5], [True]])
def test_bad_ids_are_invalid_input(alice, ids):
    with pytest.raises(InvalidInput):
        assignment_approve(ids=ids, actor=alice)


def test_unknown_ids_are_not_found(alice):
    with pytest.raises(NotFound):
        assignment_approve(ids=[987654], actor=alice)


def test_only_the_owner_or_an_operator_reviews(alice, bob, wendy, rita):
    project = paid_project(alice)
    assignment = submitted(wendy, project)
    for outsider in (bob, wendy, rita):
        with pytest.raises(Forbidden):
            assignment_approve(ids=[assignment.pk], actor=outsider)
        with pytest.raises(Forbidden):
            assignment_reject(ids=[assignment.pk], actor=outsider, reason="no")
    operator = factories.make_user("olga", role="manager", is_staff=True)
    assert assignment_approve(ids=[assignment.pk], actor=operator).changed


def test_approved_work_cannot_be_rejected(alice, wendy):
    project = paid_project(alice)
    assignment = submitted(wendy, project)
    assignment_approve(ids=[assignment.pk], actor=alice)
    with pytest.raises(Conflict, match="approved"):
        assignment_reject(ids=[assignment.pk], actor=alice, reason="changed my mind")


def test_a_rejection_reversed_in_the_window_is_approved_and_paid(alice, wendy):
    project = paid_project(alice, reward=10, budget=100)
    assignment = submitted(wendy, project)
    assignment_reject(ids=[assignment.pk], actor=alice, reason="blurry")
    assert available(project) == 80  # its slot's reward is back; two other slots stay funded
    reversed_ = assignment_rejection_reverse(assignment_id=assignment.pk, actor=alice)
    assert reversed_.status == AssignmentStatus.APPROVED
    assert payable(wendy) == 10 and available(project) == 70
    assignment_rejection_reverse(assignment_id=assignment.pk, actor=alice)  # a repeat
    assert entries(EntryKind.REWARD, assignment) == 1
    assert books_total() == 0


def test_a_rejection_cannot_be_reversed_after_the_window(alice, wendy):
    project = paid_project(alice, reversal_seconds=3600)
    assignment = submitted(wendy, project)
    assignment_reject(ids=[assignment.pk], actor=alice, reason="blurry")
    with pytest.raises(Conflict, match="window"):
        assignment_rejection_reverse(
            assignment_id=assignment.pk, actor=alice, now=timezone.now() + LATER
        )
    assert payable(wendy) == 0


def test_a_reversal_the_budget_cannot_pay_is_refused(alice, wendy):
    project = paid_project(alice, reward=10, budget=10, items=2)
    assignment = submitted(wendy, project)
    assignment_reject(ids=[assignment.pk], actor=alice, reason="blurry")
    submitted(factories.make_user(), project)  # takes the freed budget
    with pytest.raises(Conflict, match="budget"):
        assignment_rejection_reverse(assignment_id=assignment.pk, actor=alice)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.REJECTED


def test_an_appeal_is_made_once_and_its_answer_is_final(alice, bob, wendy):
    project = paid_project(alice, reward=10)
    assignment = submitted(wendy, project)
    with pytest.raises(Conflict):
        appeal_create(worker=wendy, assignment_id=assignment.pk, message="why?")
    assignment_reject(ids=[assignment.pk], actor=alice, reason="blurry")
    with pytest.raises(NotFound):
        appeal_create(worker=factories.make_user(), assignment_id=assignment.pk, message="hi")
    appeal = appeal_create(worker=wendy, assignment_id=assignment.pk, message="it is sharp")
    with pytest.raises(Conflict, match="once"):
        appeal_create(worker=wendy, assignment_id=assignment.pk, message="again")
    with pytest.raises(Forbidden):
        appeal_answer(appeal_id=appeal.pk, actor=bob, outcome="reversed", answer="ok")
    with pytest.raises(InvalidInput):
        appeal_answer(appeal_id=appeal.pk, actor=alice, outcome="maybe", answer="ok")
    answered = appeal_answer(
        appeal_id=appeal.pk, actor=alice, outcome="reversed", answer="you are right"
    )
    assert (answered.outcome, answered.decided_by) == ("reversed", alice)
    assert payable(wendy) == 10
    with pytest.raises(Conflict, match="final"):
        appeal_answer(appeal_id=appeal.pk, actor=alice, outcome="upheld", answer="no")
    decision = ReviewDecision.objects.filter(assignment=assignment).latest("pk")
    assert decision.evidence == {"via": "appeal", "appeal": appeal.pk}


def test_an_upheld_appeal_pays_nothing(alice, wendy):
    project = paid_project(alice, reward=10)
    assignment = submitted(wendy, project)
    assignment_reject(ids=[assignment.pk], actor=alice, reason="blurry")
    appeal = appeal_create(worker=wendy, assignment_id=assignment.pk, message="please")
    appeal_answer(appeal_id=appeal.pk, actor=alice, outcome="upheld", answer="still blurry")
    assert Appeal.objects.get().outcome == "upheld" and payable(wendy) == 0


def test_auto_approval_after_the_delay_is_safe_to_replay(alice, wendy):
    project = paid_project(alice, reward=10, auto_approve_seconds=3600)
    assignment = submitted(wendy, project)
    assert assignments_auto_approve_due() == 0  # not due yet
    later = timezone.now() + timezone.timedelta(hours=2)
    assert assignments_auto_approve_due(now=later) == 1
    assert assignments_auto_approve_due(now=later) == 0
    assert assignments_auto_approve_due_task() == 0
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED and assignment.reviewed_by is None
    decision = ReviewDecision.objects.get(assignment=assignment)
    assert decision.automatic and decision.evidence["via"] == "auto_delay"
    assert entries(EntryKind.REWARD, assignment) == 1 and books_total() == 0


def test_auto_approval_leaves_work_flagged_for_review(alice, wendy):
    project = paid_project(alice, auto_approve_seconds=60)
    assignment = submitted(wendy, project)
    type(assignment).objects.filter(pk=assignment.pk).update(flagged_for_review=True)
    assert assignments_auto_approve_due(now=timezone.now() + LATER) == 0


def test_auto_review_by_agreement_with_the_promoted_label(alice):
    project = paid_project(
        alice, items=1, redundancy=2, auto_approve_min_agreement=0.9,
        auto_reject_max_agreement=0.3,
    )  # fmt: skip
    good = submitted(factories.make_user(), project, answer(project))
    bad = submitted(factories.make_user(), project, answer(project, bbox=(30, 30, 10, 10)))
    item = good.item
    assert assignments_auto_review_for_item(item_id=item.pk).changed == []  # no label yet
    item_promote(item=item, payload=answer(project), reviewer=alice)
    report = assignments_auto_review_for_item(item_id=item.pk)
    assert sorted(report.changed) == sorted([good.pk, bad.pk])
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "approved" and bad.status == "rejected"
    assert "agreed 0%" in bad.reject_reason
    evidence = ReviewDecision.objects.get(assignment=bad).evidence
    assert evidence["via"] == "consensus" and evidence["score"] == 0.0
    assert assignments_auto_review_for_item(item_id=item.pk).changed == []


def test_auto_review_of_gold_answers_uses_the_gold_score(alice):
    project = factories.make_project(
        owner=alice, reward_minor=5, budget_minor=100, auto_reject_max_agreement=0.5,
        gold_rate=0.99,
    )  # fmt: skip
    item = factories.make_item(project=project, gold_answer=answer(project))
    worker = factories.make_gold_turn_worker(project)
    assignment = submitted(worker, project, answer(project, bbox=(40, 30, 5, 5)))
    assert assignment.item_id == item.pk
    assert assignments_auto_review_for_item(item_id=item.pk).changed == [assignment.pk]
    assignment.refresh_from_db()
    assert assignment.status == "rejected"
    assert ReviewDecision.objects.get(assignment=assignment).evidence["via"] == "gold"


def test_auto_review_is_off_by_default(alice, wendy):
    project = paid_project(alice, items=1)
    assignment = submitted(wendy, project)
    item_promote(item=assignment.item, payload=answer(project), reviewer=alice)
    assert assignments_auto_review_for_item(item_id=assignment.item_id).changed == []
