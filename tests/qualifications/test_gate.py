"""The quality gate: Wilson interval values, and what recording a gold result (workflows.pipeline.quality_gate) does to a worker whose
gold accuracy is (or is not) surely below the project's bar."""

import pytest

from crowd.assignment.models import Assignment, Block
from crowd.qualifications.gate import gate_judge, wilson_interval
from crowd.qualifications.models import QualificationEvent, QualificationGrant
from tests import factories
from workflows.pipeline.quality_gate import gold_result_record

# -- Wilson interval (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "successes, n, low, high",
    [
        # centre = (p + z²/2n) / (1 + z²/n), half = z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²)
        (5, 10, 0.2366, 0.7634),  # p = .5: centre .5, half 1.41602 * 0.18602
        (10, 10, 0.7225, 1.0),  # centre 1.19208 / 1.38416 = .86127, half .13877
        (0, 3, 0.0, 0.5615),  # centre = half = 0.64027 / 2.28053
        (17, 20, 0.6396, 0.9476),  # centre .94604 / 1.19208 = .79361, half .15403
        (2, 12, 0.0470, 0.4480),  # centre .32675 / 1.32013 = .24751, half .20052
    ],
)
def test_wilson_interval_matches_hand_computed_values(successes, n, low, high):
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_of_nothing_is_everything():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_wider_z_gives_a_wider_interval():
    narrow, wide = wilson_interval(7, 10, z=1.0), wilson_interval(7, 10, z=2.58)
    assert wide[0] < narrow[0] < 0.7 < narrow[1] < wide[1]


@pytest.mark.parametrize("successes, n", [(-1, 3), (4, 3), (0, -1)])
def test_wilson_interval_refuses_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_three_lucky_answers_do_not_prove_a_worker_good_nor_three_unlucky_ones_bad():
    assert not gate_judge([1.0, 1.0, 1.0], pass_score=0.7, bar=0.8).trips
    lucky = wilson_interval(3, 3)
    assert lucky[0] < 0.8  # not surely above the bar either
    assert not gate_judge([1.0] * 7 + [0.0] * 3, pass_score=0.7, bar=0.8).trips


def test_three_wrong_of_three_are_evidence_only_against_a_high_bar():
    # The upper bound for 0 of 3 is 56%: a bar of 50% is not surely missed, one of 80% is.
    assert not gate_judge([0.0] * 3, pass_score=0.7, bar=0.5).trips
    assert gate_judge([0.0] * 3, pass_score=0.7, bar=0.8).trips


def test_an_answer_is_correct_when_it_reaches_the_pass_score():
    verdict = gate_judge([0.7, 0.69, 1.0], pass_score=0.7, bar=0.5)
    assert (verdict.correct, verdict.n) == (2, 3)


# -- the gate on the database ------------------------------------------------------------------


def gated_project(alice, action: str, **fields):
    return factories.make_project(
        owner=alice, gate_min_gold_accuracy=0.8, gate_window=20, gate_action=action, **fields
    )


def gate_events(worker):
    return list(QualificationEvent.objects.filter(grant__worker=worker, kind="gate_warned"))


def pending_work(project, worker, status="submitted"):
    item = factories.make_item(project=project)
    return factories.make_assignment(item=item, worker=worker, status=status)


@pytest.mark.django_db
def test_gold_results_keep_the_gold_accuracy_qualification_current(project, wendy, gold_answers):
    answers = gold_answers(project, [1.0, 0.9, 0.1, 0.0])
    gold_result_record(assignment=answers[-1])
    accuracy = QualificationGrant.objects.get(
        worker=wendy, qualification_type__system="gold_accuracy"
    )
    assert accuracy.value == 50


@pytest.mark.django_db
def test_the_gate_is_off_when_the_project_sets_no_bar(project, wendy, gold_answers):
    answers = gold_answers(project, [0.0] * 10)
    gold_result_record(assignment=answers[-1])
    assert not gate_events(wendy)
    assert not Assignment.objects.filter(flagged_for_review=True).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scores",
    [
        [1.0] * 17 + [0.0] * 3,  # three unlucky answers in a row, after a good record
        [1.0] * 7 + [0.0] * 3,  # 70% raw, but 80% is well inside the interval
        [0.0] * 10 + [1.0] * 20,  # bad answers older than the window of 20
    ],
)
def test_a_good_worker_with_a_few_unlucky_answers_is_not_acted_on(
    alice, wendy, gold_answers, scores
):
    project = gated_project(alice, "block")
    answers = gold_answers(project, scores)
    gold_result_record(assignment=answers[-1])
    assert not gate_events(wendy)
    assert not Block.objects.exists()
    assert not Assignment.objects.filter(flagged_for_review=True).exists()


@pytest.mark.django_db
def test_a_clearly_bad_worker_is_warned_and_their_pending_work_flagged(alice, wendy, gold_answers):
    project = gated_project(alice, "warn")
    other = factories.make_project(owner=alice)
    pending = pending_work(project, wendy)
    approved = pending_work(project, wendy, status="approved")
    elsewhere = pending_work(other, wendy)
    answers = gold_answers(project, [1.0, 1.0] + [0.0] * 10)
    gold_result_record(assignment=answers[-1])

    flagged = set(Assignment.objects.filter(flagged_for_review=True).values_list("pk", flat=True))
    assert flagged == {pending.pk, *(a.pk for a in answers)}
    assert approved.pk not in flagged and elsewhere.pk not in flagged
    [event] = gate_events(wendy)
    assert event.grant.qualification_type.system == "gold_accuracy"
    assert event.project == project and event.value == 17
    assert "2 of 12 recent gold answers correct" in event.reason
    assert "95% Wilson interval 4.7% to 44.8%" in event.reason
    assert "the bar is 80%" in event.reason and "action: warn" in event.reason
    assert not Block.objects.exists()


@pytest.mark.django_db
def test_the_revoke_action_revokes_the_projects_required_qualifications(
    alice, wendy, make_type, require, grant, gold_answers
):
    project = gated_project(alice, "revoke")
    expert, unrelated = make_type("Birds expert"), make_type("Unrelated")
    require(expert, "gte", value=50, on=project)
    grant(expert, wendy, 90)
    grant(unrelated, wendy, 1)
    bob_the_worker = factories.make_user(role="worker")
    grant(expert, bob_the_worker, 90)
    answers = gold_answers(project, [0.0] * 8)
    gold_result_record(assignment=answers[-1])

    revoked = QualificationGrant.objects.get(qualification_type=expert, worker=wendy)
    assert revoked.revoked_at is not None
    event = revoked.events.get(kind="revoked")
    assert event.actor is None and event.project == project
    assert "quality gate of project" in event.reason and "0 of 8" in event.reason
    assert QualificationGrant.objects.get(qualification_type=unrelated).revoked_at is None
    assert QualificationGrant.objects.get(worker=bob_the_worker).revoked_at is None
    [warning] = gate_events(wendy)
    assert "action: revoke" in warning.reason


@pytest.mark.django_db
def test_the_block_action_blocks_the_worker_and_ends_their_leases(alice, wendy, gold_answers):
    project = gated_project(alice, "block")
    item = factories.make_item(project=project)
    type(item).objects.filter(pk=item.pk).update(slots_taken=1, slots_funded=1)
    lease = factories.make_assignment(item=item, worker=wendy, status="leased")
    answers = gold_answers(project, [0.0] * 8)
    gold_result_record(assignment=answers[-1])

    block = Block.objects.get()
    assert (block.worker, block.project, block.created_by) == (wendy, project, alice)
    assert block.lifted_at is None and "0 of 8 recent gold answers correct" in block.reason
    lease.refresh_from_db()
    item.refresh_from_db()
    assert lease.status == "returned" and item.slots_taken == 0
    assert all(a.flagged_for_review for a in Assignment.objects.filter(status="submitted"))
    [warning] = gate_events(wendy)
    assert "action: block" in warning.reason


@pytest.mark.django_db
def test_a_second_trip_does_not_block_twice(alice, wendy, gold_answers):
    project = gated_project(alice, "block")
    answers = gold_answers(project, [0.0] * 9)
    gold_result_record(assignment=answers[-2])
    gold_result_record(assignment=answers[-1])
    assert Block.objects.count() == 1
    assert len(gate_events(wendy)) == 2
