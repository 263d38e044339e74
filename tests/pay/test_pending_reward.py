"""What a worker's pending work shows is what approving it pays, whatever the project's reward
became since the claim (crowd/pay/rewards.py is the one rule for both)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crowd.pay.earnings import worker_earnings
from crowd.pay.ledger import books_total
from crowd.pay.models import EntryKind, LedgerEntry
from crowd.pay.review import assignment_approve
from tests import factories
from tests.pay.review_support import paid_project, payable, submitted
from workflows.projects.services import project_update


def _regular(alice, wendy):
    project = paid_project(alice, reward=10, budget=1000)
    return project, wendy, submitted(wendy, project)


def _gold(alice, wendy):
    """A gold lease: no slot, its reward reserved per lease in the ledger."""
    project = paid_project(alice, reward=10, budget=1000, items=0, gold_rate=0.0)
    factories.make_item(project=project, gold_answer={"regions": []})
    project = project_update(project=project, gold_rate=0.99)
    worker = factories.make_gold_turn_worker(project)
    assignment = submitted(worker, project)
    assert assignment.item.is_gold and assignment.funded_minor is None
    return project, worker, assignment


def _unledgered(alice, wendy):
    """Work from before the project kept its budget in the ledger: no slot, no reservation."""
    project = paid_project(alice, reward=10, budget=1000, items=1)
    assignment = factories.make_assignment(
        item=project.items.get(), worker=wendy, status="submitted", funded_minor=None
    )
    return project, wendy, assignment


@pytest.mark.django_db
@pytest.mark.parametrize("setup", [_regular, _gold], ids=["funded-slot", "gold-lease"])
def test_pending_shows_the_claimed_reward_and_approval_pays_exactly_that(alice, wendy, setup):
    project, worker, assignment = setup(alice, wendy)
    project_update(project=project, reward_minor=25)  # the manager reprices after the claim

    figures = worker_earnings(worker=worker)
    (usd,) = figures.currencies
    (pending,) = figures.pending
    assert (pending["assignment_id"], pending["expected_minor"]) == (assignment.pk, 10)
    assert (usd.pending_count, usd.pending_minor) == (1, 10)

    assignment_approve(ids=[assignment.pk], actor=alice)

    reward = LedgerEntry.objects.get(kind=EntryKind.REWARD, assignment=assignment)
    assert reward.amount_minor == pending["expected_minor"] == payable(worker)
    assert books_total() == 0


@pytest.mark.django_db
def test_work_from_before_budgets_shows_and_pays_todays_reward(alice, wendy):
    project, worker, assignment = _unledgered(alice, wendy)
    project_update(project=project, reward_minor=25)

    (pending,) = worker_earnings(worker=worker).pending
    assert pending["expected_minor"] == 25
    assignment_approve(ids=[assignment.pk], actor=alice)
    assert payable(worker) == 25


def _queries(worker) -> int:
    with CaptureQueriesContext(connection) as captured:
        worker_earnings(worker=worker)
    return len(captured)


@pytest.mark.django_db
def test_earnings_queries_do_not_grow_with_the_pending_rows(alice, wendy):
    project = paid_project(alice, reward=10, budget=1000, items=3)
    submitted(wendy, project)
    one = _queries(wendy)
    for _ in range(2):
        project = project_update(project=project, reward_minor=project.reward_minor + 5)
        submitted(wendy, project)
    assert [p["expected_minor"] for p in worker_earnings(worker=wendy).pending] == [20, 15, 10]
    assert worker_earnings(worker=wendy).currencies[0].pending_minor == 45
    assert _queries(wendy) == one
