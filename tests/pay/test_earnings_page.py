"""The worker's Earnings page and the managers' Costs page, server-rendered."""

import pytest

from crowd.pay.bonuses import bonus_grant
from tests import factories
from tests.pay.money import fund, work
from workflows.golden.models import GoldenAnnotation

pytestmark = [pytest.mark.urls("tests.pay.urls"), pytest.mark.django_db]


@pytest.fixture
def paid(project, alice, wendy, rita):
    project.reward_minor = 40
    project.save(update_fields=["reward_minor"])
    fund(project, 1000)
    work(project, wendy, minutes=30)
    work(project, wendy, status="rejected", reject_reason="<b>missed</b> the dog")
    bonus_grant(project=project, worker=wendy, amount_minor=15, reason="fast", actor=alice, key="x")
    GoldenAnnotation.objects.create(
        project=project,
        item=project.items.first(),
        payload={},
        reviewed_by=rita,
        promoted_at=project.created_at,
    )
    return project


def test_a_worker_sees_earnings_rate_reasons_and_bonuses(client, paid, wendy):
    client.force_login(wendy)
    page = client.get("/earnings/")
    html = page.content.decode()

    assert page.status_code == 200
    assert "0.55 USD" in html  # payable: 0.40 reward + 0.15 bonus
    assert "0.80 USD/h" in html  # 0.40 for 30 minutes
    assert "&lt;b&gt;missed&lt;/b&gt; the dog" in html  # reasons are escaped
    assert "fast" in html and paid.name in html


def test_a_worker_with_no_history_sees_empty_states(client, wendy):
    client.force_login(wendy)
    html = client.get("/earnings/").content.decode()
    assert "You have not submitted any work yet." in html


def test_the_earnings_page_needs_a_login(client):
    response = client.get("/earnings/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("persona", ["alice", "aldo"])
def test_owners_and_auditors_see_the_cost_per_promoted_item(client, request, paid, persona):
    client.force_login(request.getfixturevalue(persona))
    html = client.get("/costs/").content.decode()
    assert paid.name in html
    assert "0.55 USD" in html  # 0.40 reward + 0.15 bonus over one promoted item


def test_another_manager_sees_only_their_own_projects(client, paid, bob):
    mine = factories.make_project(owner=bob, name="Bob project")
    client.force_login(bob)
    html = client.get("/costs/").content.decode()
    assert mine.name in html and paid.name not in html


@pytest.mark.parametrize("persona", ["wendy", "rita"])
def test_workers_and_reviewers_get_no_costs_page(client, request, paid, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/costs/").status_code == 404
