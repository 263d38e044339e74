"""Qualification tests: starting (and the refusals), the items chosen, and scoring once every
test item was answered. Assignments are set up with factories, and gold_result_record is called
as the submit service calls it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crowd.common.exceptions import NotEligible
from crowd.qualifications import services
from crowd.qualifications.models import QualificationEvent, QualificationGrant
from crowd.qualifications.selectors import qualification_test_next_item_ids
from tests import factories
from tests.qualifications.conftest import box_answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_project(alice):
    """Alice's test project: four gold items and one regular item."""
    project = factories.make_project(owner=alice, name="Birds test")
    for _ in range(4):
        factories.make_item(project=project, gold_answer=box_answer(project, (0, 0, 10, 10)))
    factories.make_item(project=project)
    return project


@pytest.fixture
def birds(make_type, test_project):
    return make_type(
        "Birds expert", test_project=test_project, test_size=3, retake_delay_seconds=3600
    )


def gold_ids(project) -> list[int]:
    return list(project.items.filter(is_gold=True).order_by("id").values_list("id", flat=True))


def answer(attempt, item_id: int, score: float | None, *, status: str = "submitted"):
    """The worker's answer to one test item, recorded as the submit service would."""
    assignment = factories.make_assignment(
        item=attempt.qualification_type.test_project.items.get(pk=item_id),
        worker=attempt.worker,
        status=status,
        gold_score=score,
    )
    attempt.assignments.add(assignment)
    if score is not None:
        services.gold_result_record(assignment=assignment)
    return assignment


def test_a_test_is_the_lowest_unseen_gold_items_of_the_test_project(birds, test_project, wendy):
    first_gold = gold_ids(test_project)[0]
    factories.make_assignment(
        item=test_project.items.get(pk=first_gold), worker=wendy, status="submitted"
    )
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    assert attempt.item_ids == gold_ids(test_project)[1:4]
    assert attempt.completed_at is None and attempt.score is None
    assert qualification_test_next_item_ids(attempt=attempt) == attempt.item_ids
    assert services.qualification_test_next_item_ids(attempt=attempt) == attempt.item_ids


def test_starting_again_resumes_the_open_attempt(birds, wendy):
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    answer(attempt, attempt.item_ids[0], 1.0)
    again = services.qualification_test_start(worker=wendy, qualification_type=birds)
    assert again.pk == attempt.pk
    assert qualification_test_next_item_ids(attempt=again) == attempt.item_ids[1:]


def test_a_type_without_a_test_project_has_no_test(make_type, wendy):
    with pytest.raises(NotEligible, match="'Plain' has no qualification test"):
        services.qualification_test_start(worker=wendy, qualification_type=make_type("Plain"))


@pytest.mark.parametrize("persona", ["alice", "rita", "aldo"])
def test_only_workers_take_tests(request, birds, persona):
    with pytest.raises(NotEligible, match="only workers take qualification tests"):
        services.qualification_test_start(
            worker=request.getfixturevalue(persona), qualification_type=birds
        )


def test_a_test_needs_enough_unseen_items(birds, test_project, wendy):
    for item_id in gold_ids(test_project)[:2]:
        factories.make_assignment(
            item=test_project.items.get(pk=item_id), worker=wendy, status="submitted"
        )
    with pytest.raises(NotEligible, match="not enough unseen test items left: 2 of 3 needed"):
        services.qualification_test_start(worker=wendy, qualification_type=birds)


def test_the_last_test_item_answered_scores_the_test_and_grants_the_score(birds, wendy):
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    first, second, third = attempt.item_ids
    answer(attempt, first, 1.0)
    answer(attempt, second, 0.5)
    attempt.refresh_from_db()
    assert attempt.completed_at is None
    assert not QualificationGrant.objects.filter(qualification_type=birds).exists()

    answer(attempt, third, 0.9)
    attempt.refresh_from_db()
    assert attempt.completed_at is not None and attempt.score == pytest.approx(0.8)
    grant = QualificationGrant.objects.get(qualification_type=birds, worker=wendy)
    assert grant.value == 80
    [event] = grant.events.all()
    assert (event.kind, event.value, event.project) == ("test_scored", 80, birds.test_project)
    assert "3 of 3 items answered, mean score 0.80" in event.reason
    systems = set(
        QualificationGrant.objects.filter(worker=wendy).values_list(
            "qualification_type__system", flat=True
        )
    )
    assert systems == {"", "gold_accuracy", "approved_count"}


def test_a_retake_is_refused_until_the_delay_has_passed(birds, wendy):
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    for item_id in attempt.item_ids:
        answer(attempt, item_id, 0.0)
    attempt.refresh_from_db()
    retake_at = attempt.completed_at + timedelta(hours=1)
    with pytest.raises(NotEligible, match="you can retake this test after") as refusal:
        services.qualification_test_start(
            worker=wendy, qualification_type=birds, now=retake_at - timedelta(seconds=1)
        )
    assert f"{retake_at:%Y-%m-%d %H:%M} UTC" in refusal.value.message
    # After the delay only one unseen gold item is left: too few for a test of three.
    with pytest.raises(NotEligible, match="not enough unseen test items left: 1 of 3"):
        services.qualification_test_start(worker=wendy, qualification_type=birds, now=retake_at)


def test_a_retake_changes_the_granted_value_and_restores_a_revoked_grant(
    birds, test_project, wendy, alice
):
    birds.test_size = 2
    birds.save()
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    for item_id in attempt.item_ids:
        answer(attempt, item_id, 0.25)
    services.qualification_revoke(qualification_type=birds, worker=wendy, actor=alice, reason="x")
    later = timezone.now() + timedelta(hours=2)
    retake = services.qualification_test_start(worker=wendy, qualification_type=birds, now=later)
    assert retake.pk != attempt.pk and retake.item_ids == gold_ids(test_project)[2:4]
    for item_id in retake.item_ids:
        answer(retake, item_id, 1.0)
    grant = QualificationGrant.objects.get(qualification_type=birds, worker=wendy)
    assert grant.value == 100 and grant.revoked_at is None
    kinds = list(grant.events.values_list("kind", "value"))
    assert kinds == [("test_scored", 25), ("revoked", 25), ("test_scored", 100)]


def test_an_abandoned_test_item_scores_zero_and_closes_the_attempt(birds, wendy):
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    first, second, third = attempt.item_ids
    answer(attempt, first, 1.0)
    answer(attempt, second, 1.0)
    answer(attempt, third, None, status="expired")
    attempt.refresh_from_db()
    assert attempt.completed_at is None  # nothing was submitted to trigger scoring
    with pytest.raises(NotEligible, match="you can retake this test after"):
        services.qualification_test_start(worker=wendy, qualification_type=birds)
    attempt.refresh_from_db()
    assert attempt.score == pytest.approx(2 / 3)
    assert QualificationGrant.objects.get(qualification_type=birds).value == 67


def test_a_test_item_still_leased_keeps_the_attempt_open(birds, wendy):
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    first, second, third = attempt.item_ids
    answer(attempt, first, 1.0)
    answer(attempt, second, None, status="leased")
    answer(attempt, third, 1.0)
    attempt.refresh_from_db()
    assert attempt.completed_at is None
    assert services.qualification_test_start(worker=wendy, qualification_type=birds) == attempt


def test_gold_answers_outside_a_test_do_not_touch_the_attempt(birds, project, wendy, gold_answers):
    attempt = services.qualification_test_start(worker=wendy, qualification_type=birds)
    [elsewhere] = gold_answers(project, [1.0])
    services.gold_result_record(assignment=elsewhere)
    attempt.refresh_from_db()
    assert attempt.completed_at is None
    assert not QualificationEvent.objects.filter(kind="test_scored").exists()
