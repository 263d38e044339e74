"""Earnings and costs from a hand-built history: rewards posted directly to the ledger, a
bonus, a payout, pending and rejected work; the API views of both."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crowd.pay.bonuses import bonus_grant
from crowd.pay.earnings import project_costs, worker_earnings
from crowd.pay.ledger import books_total
from crowd.pay.payouts import payout_batch_close, payout_batch_mark_paid
from tests import factories
from tests.pay.money import fund, work
from workflows.golden.models import GoldenAnnotation
from workflows.projects.models import Project

pytestmark = pytest.mark.urls("tests.pay.urls")


@pytest.fixture
def olga(db):
    return factories.make_user("olga", role="manager", is_staff=True)


@pytest.fixture
def history(project, alice, wendy, rita, olga):
    """Wendy on Alice's project (0.50 USD a task):

    approved 10 min and 20 min, paid out with a 0.25 bonus (1.25 in batch 1, confirmed);
    then approved 5 min (0.50, still payable); one pending, one rejected.
    Another worker has approved work of his own. Two items are promoted (one twice).
    """
    project.reward_minor = 50
    project.save(update_fields=["reward_minor"])
    fund(project, 10_000)
    work(project, wendy, minutes=10)
    work(project, wendy, minutes=20)
    bonus_grant(
        project=project, worker=wendy, amount_minor=25, reason="tidy polygons", actor=alice, key="b"
    )
    batch = payout_batch_close(currency="USD", actor=olga)
    payout_batch_mark_paid(batch=batch, actor=olga, external_reference="tr_1")
    work(project, wendy, minutes=5)
    work(project, wendy, status="submitted", minutes=3)
    work(project, wendy, status="rejected", minutes=7, reject_reason="boxes cut the cat's tail")
    other = factories.make_user("otto")
    work(project, other, minutes=60)
    items = list(project.items.order_by("pk")[:2])
    now = timezone.now()
    for item in items:
        GoldenAnnotation.objects.create(
            project=project, item=item, payload={}, reviewed_by=rita, promoted_at=now
        )
    GoldenAnnotation.objects.filter(item=items[0]).update(superseded_at=now)
    GoldenAnnotation.objects.create(
        project=project, item=items[0], payload={"v": 2}, reviewed_by=rita, promoted_at=now
    )
    return {"project": project, "batch": batch, "other": other}


@pytest.mark.django_db
class TestWorkerEarnings:
    def test_the_figures_of_a_hand_built_history(self, history, wendy):
        e = worker_earnings(worker=wendy)

        (usd,) = e.currencies
        assert usd.currency == "USD"
        assert (usd.approved_count, usd.approved_minor) == (3, 150)
        assert (usd.pending_count, usd.pending_minor) == (1, 50)
        assert usd.rejected_count == 1
        assert usd.bonus_minor == 25
        assert usd.paid_out_minor == 125
        assert usd.payable_minor == 50  # 150 + 25 - 125
        assert usd.approved_seconds == 35 * 60
        # 1.50 USD over 35 minutes of approved work: 150 * 60 / 35 = 257.14 cents an hour.
        assert usd.hourly_rate_minor == 257
        assert books_total() == 0

    def test_the_lists_say_why_and_how_much(self, history, wendy):
        e = worker_earnings(worker=wendy)

        assert [r["reason"] for r in e.rejected] == ["boxes cut the cat's tail"]
        assert [r["expected_minor"] for r in e.pending] == [50]
        assert [r["reward_minor"] for r in e.approved] == [50, 50, 50]
        assert [(b["amount_minor"], b["reason"]) for b in e.bonuses] == [(25, "tidy polygons")]
        assert e.bonuses[0]["project_id"] == history["project"].pk
        (payout,) = e.payouts
        assert payout["batch_id"] == history["batch"].pk
        assert (payout["amount_minor"], payout["status"]) == (125, "paid")

    def test_an_approval_not_yet_in_the_books_shows_no_reward(self, project, wendy):
        work(project, wendy, paid=False)
        e = worker_earnings(worker=wendy)
        assert e.approved[0]["reward_minor"] is None
        assert e.currencies[0].approved_count == 1 and e.currencies[0].hourly_rate_minor == 0

    def test_a_worker_with_nothing_has_no_figures(self, wendy):
        e = worker_earnings(worker=wendy)
        assert e.currencies == [] and e.approved == [] and e.payouts == []

    def test_each_currency_is_kept_apart(self, history, alice, wendy):
        euro = factories.make_project(owner=alice, currency="EUR", reward_minor=300)
        fund(euro, 1000)
        work(euro, wendy, minutes=60)

        by = {c.currency: c for c in worker_earnings(worker=wendy).currencies}

        assert by["EUR"].approved_minor == 300 and by["EUR"].hourly_rate_minor == 300
        assert by["USD"].approved_minor == 150

    def test_the_api_shows_only_my_own_earnings(
        self, api, history, wendy, django_assert_max_num_queries
    ):
        with django_assert_max_num_queries(20):
            response = api(wendy).get("/api/v1/me/earnings/")
        assert response.status_code == 200
        body = response.json()
        assert body["currencies"][0]["payable_minor"] == 50
        assert body["currencies"][0]["hourly_rate_minor"] == 257
        assert body["rejected"][0]["reason"] == "boxes cut the cat's tail"
        assert {r["assignment_id"] for r in body["approved"]}.isdisjoint(
            history["other"].assignments.values_list("pk", flat=True)
        )
        assert "gold_score" not in str(body)
        assert api().get("/api/v1/me/earnings/").status_code in (401, 403)


@pytest.mark.django_db
class TestCosts:
    def test_cost_and_labels_per_promoted_item(self, history):
        (cost,) = project_costs(projects=Project.objects.filter(pk=history["project"].pk))

        # Rewards: Wendy 3 x 50, Otto 1 x 50; a 25 bonus; 2 items currently promoted.
        assert (cost.rewards_minor, cost.bonuses_minor, cost.spent_minor) == (200, 25, 225)
        assert (cost.labels_bought, cost.promoted_items) == (4, 2)
        assert cost.cost_per_item_minor == Decimal("112.50")
        assert cost.labels_per_item == Decimal("2.00")

    def test_nothing_promoted_has_no_ratio(self, project, alice, bob):
        other = factories.make_project(owner=bob)
        costs = project_costs(projects=Project.objects.filter(pk__in=[project.pk, other.pk]))
        assert [(c.spent_minor, c.cost_per_item_minor, c.labels_per_item) for c in costs] == [
            (0, None, None),
            (0, None, None),
        ]

    @pytest.mark.parametrize(
        ("persona", "code"),
        [("alice", 200), ("aldo", 200), ("bob", 404), ("wendy", 404), ("rita", 404)],
    )
    def test_costs_are_for_the_owner_and_auditors(self, request, api, history, persona, code):
        """Seeing a project is not seeing its money: costs the user may not read are a 404."""
        project = history["project"]
        response = api(request.getfixturevalue(persona)).get(
            f"/api/v1/projects/{project.pk}/costs/"
        )
        assert response.status_code == code
        if code == 200:
            assert response.json()["cost_per_item_minor"] == "112.50"
            assert response.json()["spent_minor"] == 225

    def test_the_promoted_count_ignores_superseded_labels(self, history, rita):
        project = history["project"]
        GoldenAnnotation.objects.filter(project=project, superseded_at__isnull=True).update(
            superseded_at=timezone.now() - timedelta(seconds=1)
        )
        (cost,) = project_costs(projects=Project.objects.filter(pk=project.pk))
        assert cost.promoted_items == 0 and cost.cost_per_item_minor is None
