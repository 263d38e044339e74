"""Bonuses: grants by a project's owner (budget, reason, amount and key rules, every refusal),
the API with its Idempotency-Key, automatic top-agreement rules, and concurrent grants."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connections

from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from crowd.pay.bonuses import bonus_grant, bonus_rule_create, bonus_rules_apply, period_bounds
from crowd.pay.ledger import books_total
from crowd.pay.models import BonusRule, EntryKind, LedgerEntry
from crowd.pay.tasks import bonus_rules_apply_task
from tests import factories
from tests.pay.money import budget, fund, payable, work

pytestmark = pytest.mark.urls("tests.pay.urls")


@pytest.fixture
def funded(project, wendy):
    """Alice's project with 10.00 USD of budget, on which Wendy has worked."""
    fund(project, 1000)
    work(project, wendy, status="submitted")
    return project


def grant(project, worker, actor, amount=250, reason="careful boxes", key="k1"):
    return bonus_grant(
        project=project, worker=worker, amount_minor=amount, reason=reason, actor=actor, key=key
    )


@pytest.mark.django_db
class TestGrant:
    def test_the_owner_pays_a_bonus_from_the_budget(self, funded, alice, wendy):
        entry = grant(funded, wendy, alice)

        assert entry.kind == EntryKind.BONUS and entry.amount_minor == 250
        assert entry.memo == "careful boxes" and entry.created_by == alice
        assert entry.idempotency_key == f"bonus:{funded.pk}:k1"
        assert payable(wendy) == 250 and budget(funded) == 750
        assert books_total() == 0

    def test_a_double_click_with_the_same_key_pays_once(self, funded, alice, wendy):
        first = grant(funded, wendy, alice)
        second = grant(funded, wendy, alice)

        assert second.pk == first.pk
        assert LedgerEntry.objects.filter(kind=EntryKind.BONUS).count() == 1
        assert payable(wendy) == 250

    def test_a_replay_after_the_budget_ran_out_returns_the_first_bonus(self, funded, alice, wendy):
        first = grant(funded, wendy, alice, amount=1000)
        assert budget(funded) == 0

        assert grant(funded, wendy, alice, amount=1000).pk == first.pk

    def test_a_key_reused_for_another_amount_is_a_conflict(self, funded, alice, wendy):
        grant(funded, wendy, alice, amount=250)
        with pytest.raises(Conflict):
            grant(funded, wendy, alice, amount=300)
        assert payable(wendy) == 250

    def test_different_keys_are_different_bonuses(self, funded, alice, wendy):
        grant(funded, wendy, alice, key="a")
        grant(funded, wendy, alice, key="b")
        assert payable(wendy) == 500

    def test_more_than_the_available_budget_is_refused(self, funded, alice, wendy):
        with pytest.raises(Conflict, match="budget"):
            grant(funded, wendy, alice, amount=1001)
        assert payable(wendy) == 0 and budget(funded) == 1000

    def test_an_authorised_budget_not_yet_in_the_books_pays(self, project, alice, wendy):
        project.budget_minor = 400
        project.save(update_fields=["budget_minor"])
        work(project, wendy, status="submitted", paid=False)

        grant(project, wendy, alice, amount=400)

        assert payable(wendy) == 400 and budget(project) == 0
        with pytest.raises(Conflict):
            grant(project, wendy, alice, amount=1, key="k2")

    def test_an_operator_may_grant_on_any_project(self, funded, wendy):
        olga = factories.make_user("olga", role="manager", is_staff=True)
        assert grant(funded, wendy, olga).created_by == olga

    @pytest.mark.parametrize(
        "amount", [-5, 0, "abc", "", "1e3", "2.50", 2.5, 5.0, True, None, Decimal("2"), [1]]
    )
    def test_amounts_that_are_not_positive_whole_minor_units_are_refused(
        self, funded, alice, wendy, amount
    ):
        with pytest.raises(InvalidInput, match="amount_minor"):
            grant(funded, wendy, alice, amount=amount)
        assert not LedgerEntry.objects.filter(kind=EntryKind.BONUS).exists()

    def test_a_string_of_digits_is_a_whole_amount(self, funded, alice, wendy):
        assert grant(funded, wendy, alice, amount=" 75 ").amount_minor == 75

    @pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
    def test_a_reason_is_required(self, funded, alice, wendy, reason):
        with pytest.raises(InvalidInput, match="reason"):
            grant(funded, wendy, alice, reason=reason)

    @pytest.mark.parametrize("key", ["", "  ", "k" * 101])
    def test_a_bad_key_is_refused(self, funded, alice, wendy, key):
        with pytest.raises(InvalidInput, match="key"):
            grant(funded, wendy, alice, key=key)

    @pytest.mark.parametrize("persona", ["bob", "wendy", "aldo", "rita"])
    def test_only_the_owner_grants(self, request, funded, wendy, persona):
        with pytest.raises(Forbidden):
            grant(funded, wendy, request.getfixturevalue(persona))
        assert budget(funded) == 1000

    def test_the_recipient_must_be_a_worker_who_worked_on_the_project(
        self, funded, alice, bob, rita
    ):
        stranger = factories.make_user("stranger")
        for recipient in (stranger, alice, bob, rita):
            with pytest.raises(InvalidInput, match="worked on this project"):
                grant(funded, recipient, alice)


@pytest.mark.django_db
class TestGrantApi:
    def body(self, project, worker, **extra):
        return {
            "project": project.pk,
            "worker": worker.pk,
            "amount_minor": 250,
            "reason": "thanks",
            **extra,
        }

    def test_the_owner_grants_once_per_idempotency_key(self, api, funded, alice, wendy):
        client = api(alice)
        first = client.post(
            "/api/v1/bonuses/", self.body(funded, wendy), HTTP_IDEMPOTENCY_KEY="req-7"
        )
        again = client.post(
            "/api/v1/bonuses/", self.body(funded, wendy), HTTP_IDEMPOTENCY_KEY="req-7"
        )
        by_field = client.post(
            "/api/v1/bonuses/", self.body(funded, wendy, idempotency_key="req-7")
        )

        assert first.status_code == 201, first.json()
        assert first.json() == again.json() == by_field.json()
        assert first.json()["amount_minor"] == 250 and first.json()["reason"] == "thanks"
        assert payable(wendy) == 250

    def test_a_grant_without_a_key_is_refused(self, api, funded, alice, wendy):
        response = api(alice).post("/api/v1/bonuses/", self.body(funded, wendy))
        assert response.status_code == 400
        assert "idempotency" in response.json()["error"]["message"].lower()

    @pytest.mark.parametrize("amount", [-1, 0, "ten", 2.5, 1.0, True, None])
    def test_bad_amounts_are_a_400(self, api, funded, alice, wendy, amount):
        response = api(alice).post(
            "/api/v1/bonuses/",
            self.body(funded, wendy, amount_minor=amount),
            HTTP_IDEMPOTENCY_KEY="k",
        )
        assert response.status_code == 400, response.json()
        assert response.json()["error"]["code"] == "invalid"

    def test_a_budget_too_small_is_a_409(self, api, funded, alice, wendy):
        response = api(alice).post(
            "/api/v1/bonuses/",
            self.body(funded, wendy, amount_minor=5000),
            HTTP_IDEMPOTENCY_KEY="k",
        )
        assert response.status_code == 409
        assert response.json()["error"]["details"]["available_minor"] == 1000

    @pytest.mark.parametrize(("persona", "code"), [("bob", 404), ("aldo", 403), ("wendy", 403)])
    def test_others_cannot_grant(self, request, api, funded, wendy, persona, code):
        response = api(request.getfixturevalue(persona)).post(
            "/api/v1/bonuses/", self.body(funded, wendy), HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == code
        assert payable(wendy) == 0

    def test_an_unknown_worker_is_a_400(self, api, funded, alice, wendy):
        body = {**self.body(funded, wendy), "worker": 987654}
        response = api(alice).post("/api/v1/bonuses/", body, HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 400


# --- Automatic rules ----------------------------------------------------------------------

MONDAY = datetime(2026, 11, 16, tzinfo=UTC)


def rule(project, actor, **fields):
    """A rule made through the service, dated well before the periods under test."""
    made = bonus_rule_create(project=project, actor=actor, **fields)
    BonusRule.objects.filter(pk=made.pk).update(created_at=MONDAY - timedelta(days=30))
    made.refresh_from_db()
    return made


def scored(project, worker, scores, *, day=MONDAY, status="approved"):
    extra = {"reject_reason": "wrong class"} if status == "rejected" else {}
    for n, score in enumerate(scores):
        work(
            project,
            worker,
            status=status,
            gold_score=score,
            submitted_at=day + timedelta(hours=1, minutes=n),
            paid=False,
            **extra,
        )


@pytest.fixture
def crowd(project):
    fund(project, 10_000)
    people = {name: factories.make_user(name) for name in ("ann", "ben", "cat", "dan")}
    scored(project, people["ann"], [0.9, 0.8, 1.0])  # mean 0.9
    scored(project, people["ben"], [0.95, 0.95, 0.95])  # mean 0.95
    scored(project, people["cat"], [0.9, 0.9, 0.9])  # mean 0.9, ties ann on mean and count
    scored(project, people["dan"], [1.0])  # too few scored answers
    scored(project, people["dan"], [0.1, 0.1, 0.1], status="rejected")  # rejected: not counted
    return people


@pytest.mark.django_db
class TestRules:
    def test_periods_are_complete_utc_days_and_weeks_from_monday(self):
        at = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)  # a Wednesday
        assert period_bounds("day", at) == (
            datetime(2026, 11, 24, tzinfo=UTC),
            at.replace(hour=0, minute=0),
        )
        assert period_bounds("week", at) == (MONDAY, MONDAY + timedelta(days=7))

    def test_the_top_workers_of_the_period_are_paid_once(self, project, alice, crowd):
        rule(project, alice, amount_minor=500, top_n=2, period="week", min_scored=3)
        later = MONDAY + timedelta(days=8)

        paid = bonus_rules_apply(project=project, period_end=later)
        again = bonus_rules_apply(project=project, period_end=later + timedelta(hours=5))

        winners = [crowd["ben"], min(crowd["ann"], crowd["cat"], key=lambda u: u.pk)]
        assert [e.debit.worker for e in paid] == winners
        assert [e.pk for e in again] == [e.pk for e in paid]
        assert LedgerEntry.objects.filter(kind=EntryKind.BONUS).count() == 2
        assert "#1" in paid[0].memo and "0.950" in paid[0].memo
        assert budget(project) == 9000 and books_total() == 0

    def test_the_next_period_has_its_own_winners(self, project, alice, crowd):
        rule(project, alice, amount_minor=100, top_n=1, period="week", min_scored=3)
        bonus_rules_apply(project=project, period_end=MONDAY + timedelta(days=7))
        scored(project, crowd["cat"], [1.0, 1.0, 1.0], day=MONDAY + timedelta(days=7))

        bonus_rules_apply(project=project, period_end=MONDAY + timedelta(days=14))

        assert payable(crowd["ben"]) == 100 and payable(crowd["cat"]) == 100

    def test_an_exhausted_budget_pays_the_best_first_and_the_rest_after_a_top_up(
        self, project, alice, crowd
    ):
        rule(project, alice, amount_minor=6000, top_n=2, period="week", min_scored=3)
        end = MONDAY + timedelta(days=7)
        assert len(bonus_rules_apply(project=project, period_end=end)) == 1
        assert payable(crowd["ben"]) == 6000

        fund(project, 5000)
        assert len(bonus_rules_apply(project=project, period_end=end)) == 2
        assert LedgerEntry.objects.filter(kind=EntryKind.BONUS).count() == 2

    def test_inactive_rules_and_other_roles_pay_nothing(self, project, alice, bob, crowd):
        made = rule(project, alice, amount_minor=10, top_n=3, period="week", min_scored=1)
        made.active = False
        made.save()
        assert bonus_rules_apply(project=project, period_end=MONDAY + timedelta(days=7)) == []
        with pytest.raises(Forbidden):
            bonus_rule_create(project=project, actor=bob, amount_minor=10, top_n=1, period="day")
        with pytest.raises(InvalidInput):
            bonus_rule_create(project=project, actor=alice, amount_minor=-10, top_n=1, period="day")

    def test_a_rule_never_pays_for_a_period_that_ended_before_it_existed(
        self, project, alice, crowd
    ):
        made = rule(project, alice, amount_minor=100, top_n=1, period="week", min_scored=3)
        BonusRule.objects.filter(pk=made.pk).update(created_at=MONDAY + timedelta(days=7, hours=1))

        assert bonus_rules_apply(project=project, period_end=MONDAY + timedelta(days=8)) == []

    def test_the_periodic_task_applies_every_project_and_is_safe_to_rerun(
        self, project, alice, crowd, monkeypatch
    ):
        rule(project, alice, amount_minor=50, top_n=3, period="day", min_scored=3)
        monkeypatch.setattr(
            "crowd.pay.bonuses.timezone.now", lambda: MONDAY + timedelta(days=1, hours=3)
        )
        assert bonus_rules_apply_task() == 3
        assert bonus_rules_apply_task() == 3
        assert LedgerEntry.objects.filter(kind=EntryKind.BONUS).count() == 3

    def test_owners_add_rules_over_the_api_and_others_cannot(
        self, api, project, alice, bob, wendy, aldo
    ):
        body = {"project": project.pk, "amount_minor": 300, "top_n": 2, "period": "day"}
        created = api(alice).post("/api/v1/bonus-rules/", body)
        assert created.status_code == 201, created.json()
        assert created.json()["kind"] == "top_agreement"
        assert api(aldo).get("/api/v1/bonus-rules/").json()["count"] == 1
        assert api(bob).get("/api/v1/bonus-rules/").json()["count"] == 0
        assert api(bob).post("/api/v1/bonus-rules/", body).status_code == 404
        assert api(wendy).post("/api/v1/bonus-rules/", body).status_code == 403
        assert api(aldo).post("/api/v1/bonus-rules/", body).status_code == 403
        bad = api(alice).post("/api/v1/bonus-rules/", {**body, "amount_minor": 2.5})
        assert bad.status_code == 400


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_grants_never_spend_more_than_the_budget(alice):
    project = factories.make_project(owner=alice)
    fund(project, 500)
    workers = [factories.make_user() for _ in range(8)]
    for worker in workers:
        work(project, worker, status="submitted")
    barrier, outcomes = threading.Barrier(8), []

    def attempt(worker):
        try:
            barrier.wait()
            outcomes.append(grant(project, worker, alice, amount=100, key=f"k{worker.pk}"))
        except Conflict as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(isinstance(o, LedgerEntry) for o in outcomes) == 5
    assert sum(isinstance(o, Conflict) for o in outcomes) == 3
    assert budget(project) == 0 and books_total() == 0
