"""Payout batches: close, CSV, mark paid; idempotency (close twice, mark paid twice, replays),
refusals by role, the scheduled close, and concurrent closes on PostgreSQL."""

import csv
import io
import threading

import pytest
from django.db import connections

from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from crowd.pay.ledger import account_for, balance, books_total
from crowd.pay.models import AccountKind, EntryKind, LedgerEntry, PayoutBatch, PayoutLine
from crowd.pay.payouts import (
    payout_batch_close,
    payout_batch_csv,
    payout_batch_mark_paid,
    payout_batches_close_due,
)
from crowd.pay.tasks import payout_batches_close_task
from tests import factories
from tests.pay.money import fund, payable, reward, work

pytestmark = pytest.mark.urls("tests.pay.urls")


@pytest.fixture
def olga(db):
    """An operator (staff): the only one who pays the platform out."""
    return factories.make_user("olga", role="manager", is_staff=True)


@pytest.fixture
def wanda(db):
    return factories.make_user("wanda", role="worker")


@pytest.fixture
def paid_project(project):
    project.reward_minor = 125
    project.save(update_fields=["reward_minor"])
    fund(project, 100_000)
    return project


def _paid_out() -> int:
    return balance(account_for(kind=AccountKind.PAID_OUT, currency="USD"))


@pytest.mark.django_db
class TestClose:
    def test_every_payable_balance_becomes_a_line_and_a_payout_entry(
        self, paid_project, wendy, wanda, olga
    ):
        work(paid_project, wendy)
        work(paid_project, wendy)
        work(paid_project, wanda)
        work(paid_project, wanda, status="submitted")  # not approved: not payable

        batch = payout_batch_close(currency="USD", actor=olga)

        lines = {line.worker_id: line for line in batch.lines.select_related("entry")}
        assert {w: line.amount_minor for w, line in lines.items()} == {wendy.pk: 250, wanda.pk: 125}
        for worker_id, line in lines.items():
            assert line.entry.kind == EntryKind.PAYOUT
            assert line.entry.idempotency_key == f"payout:{batch.pk}:{worker_id}"
            assert line.entry.amount_minor == line.amount_minor
        assert batch.status == "closed" and batch.closed_by == olga and batch.closed_at
        assert payable(wendy) == payable(wanda) == 0
        assert _paid_out() == 375
        assert books_total() == 0

    def test_a_second_close_with_nothing_new_is_refused_and_adds_no_line(
        self, paid_project, wendy, olga
    ):
        work(paid_project, wendy)
        payout_batch_close(currency="USD", actor=olga)

        with pytest.raises(Conflict, match="nothing to pay"):
            payout_batch_close(currency="USD", actor=olga)

        assert PayoutBatch.objects.count() == 1
        assert PayoutLine.objects.count() == 1
        assert _paid_out() == 125

    def test_the_next_batch_carries_only_what_was_earned_since(self, paid_project, wendy, olga):
        work(paid_project, wendy)
        first = payout_batch_close(currency="USD", actor=olga)
        work(paid_project, wendy)
        work(paid_project, wendy)

        second = payout_batch_close(currency="USD", actor=olga)

        assert [line.amount_minor for line in second.lines.all()] == [250]
        assert first.lines.get().entry_id != second.lines.get().entry_id
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT).count() == 2
        assert _paid_out() == 375 and payable(wendy) == 0

    def test_a_replayed_close_with_the_same_key_returns_the_first_batch(
        self, paid_project, wendy, olga
    ):
        work(paid_project, wendy)
        first = payout_batch_close(currency="USD", actor=olga, request_key="close-2026-11-22")
        work(paid_project, wendy)  # earned after the first close: not in a replay

        again = payout_batch_close(currency="USD", actor=olga, request_key="close-2026-11-22")

        assert again.pk == first.pk
        assert again.lines.count() == 1 and _paid_out() == 125
        assert payable(wendy) == 125

    def test_currencies_are_batched_apart(self, paid_project, alice, wendy, olga):
        euro = factories.make_project(owner=alice, currency="EUR", reward_minor=300)
        fund(euro, 10_000)
        work(paid_project, wendy)
        work(euro, wendy)

        batch = payout_batch_close(currency="eur", actor=olga)

        assert batch.currency == "EUR"
        assert [line.amount_minor for line in batch.lines.all()] == [300]
        assert payable(wendy, "USD") == 125

    @pytest.mark.parametrize("currency", ["US", "", "US1", "ÜSD", None, 840])
    def test_a_bad_currency_is_refused(self, olga, currency):
        with pytest.raises(InvalidInput):
            payout_batch_close(currency=currency, actor=olga)

    @pytest.mark.parametrize("persona", ["alice", "wendy", "aldo", "rita"])
    def test_only_operators_close(self, request, paid_project, wendy, persona):
        work(paid_project, wendy)
        with pytest.raises(Forbidden):
            payout_batch_close(currency="USD", actor=request.getfixturevalue(persona))
        assert not PayoutBatch.objects.exists() and payable(wendy) == 125

    def test_the_scheduled_close_pays_each_currency_once_and_is_safe_to_rerun(
        self, paid_project, alice, wendy, wanda
    ):
        euro = factories.make_project(owner=alice, currency="EUR", reward_minor=300)
        fund(euro, 10_000)
        work(paid_project, wendy)
        work(euro, wanda)

        ids = payout_batches_close_task()

        assert sorted(PayoutBatch.objects.values_list("currency", flat=True)) == ["EUR", "USD"]
        assert len(ids) == 2
        assert payout_batches_close_due() == []  # nothing new: no empty batches
        assert PayoutBatch.objects.count() == 2 and books_total() == 0


@pytest.mark.django_db
class TestMarkPaid:
    def test_marking_paid_records_the_confirmation(self, paid_project, wendy, olga):
        work(paid_project, wendy)
        batch = payout_batch_close(currency="USD", actor=olga)

        paid = payout_batch_mark_paid(batch=batch, actor=olga, external_reference=" tr_123 ")

        assert paid.status == "paid" and paid.paid_by == olga and paid.paid_at
        assert paid.external_reference == "tr_123"

    def test_a_confirmation_retried_after_a_timeout_pays_once(self, paid_project, wendy, olga):
        """PERF-NOTES F13: the provider paid, our side timed out, the operator retries."""
        work(paid_project, wendy)
        batch = payout_batch_close(currency="USD", actor=olga)
        first = payout_batch_mark_paid(batch=batch, actor=olga, external_reference="tr_123")
        entries_before = LedgerEntry.objects.count()

        retried = payout_batch_mark_paid(batch=batch, actor=olga, external_reference="tr_123")

        assert retried.pk == first.pk and retried.paid_at == first.paid_at
        assert LedgerEntry.objects.count() == entries_before
        assert _paid_out() == 125 and payable(wendy) == 0
        assert books_total() == 0

    def test_a_different_reference_for_a_paid_batch_is_a_conflict(self, paid_project, wendy, olga):
        work(paid_project, wendy)
        batch = payout_batch_close(currency="USD", actor=olga)
        payout_batch_mark_paid(batch=batch, actor=olga, external_reference="tr_123")

        with pytest.raises(Conflict):
            payout_batch_mark_paid(batch=batch, actor=olga, external_reference="tr_999")
        batch.refresh_from_db()
        assert batch.external_reference == "tr_123"

    @pytest.mark.parametrize("reference", ["", "   ", None, "x" * 201])
    def test_a_reference_is_required(self, paid_project, wendy, olga, reference):
        work(paid_project, wendy)
        batch = payout_batch_close(currency="USD", actor=olga)
        with pytest.raises(InvalidInput):
            payout_batch_mark_paid(batch=batch, actor=olga, external_reference=reference)

    def test_only_operators_mark_paid(self, paid_project, alice, wendy, olga):
        work(paid_project, wendy)
        batch = payout_batch_close(currency="USD", actor=olga)
        for persona in (alice, wendy):
            with pytest.raises(Forbidden):
                payout_batch_mark_paid(batch=batch, actor=persona, external_reference="tr_1")


@pytest.mark.django_db
class TestCsv:
    def test_the_csv_lists_each_line_with_payout_email_and_major_units(
        self, paid_project, wendy, wanda, olga
    ):
        wendy.worker_profile.payout_email = "wendy@pay.example"
        wendy.worker_profile.save()
        for _ in range(3):
            work(paid_project, wendy)  # 3.75
        work(paid_project, wanda, paid=False)
        reward(wanda.assignments.get(), 5)  # 0.05
        batch = payout_batch_close(currency="USD", actor=olga)
        ids = {line.worker_id: line.pk for line in batch.lines.all()}

        rows = list(csv.reader(io.StringIO(payout_batch_csv(batch=batch))))

        assert rows == [
            ["line_id", "worker_id", "username", "payout_email", "amount", "currency"],
            [str(ids[wendy.pk]), str(wendy.pk), "wendy", "wendy@pay.example", "3.75", "USD"],
            [str(ids[wanda.pk]), str(wanda.pk), "wanda", "", "0.05", "USD"],
        ]

    def test_currencies_without_cents_export_whole_units(self, alice, wendy, olga):
        yen = factories.make_project(owner=alice, currency="JPY", reward_minor=1200)
        fund(yen, 10_000)
        work(yen, wendy)
        batch = payout_batch_close(currency="JPY", actor=olga)

        assert payout_batch_csv(batch=batch).splitlines()[1].endswith(",1200,JPY")

    def test_cells_that_spreadsheets_would_run_as_formulas_are_quoted(self, paid_project, olga):
        mallory = factories.make_user("-mallory", role="worker")
        mallory.worker_profile.payout_email = "+cmd@evil.example"
        mallory.worker_profile.save()
        work(paid_project, mallory)
        batch = payout_batch_close(currency="USD", actor=olga)

        row = list(csv.reader(io.StringIO(payout_batch_csv(batch=batch))))[1]

        assert row[2:4] == ["'-mallory", "'+cmd@evil.example"]


@pytest.mark.django_db
class TestApi:
    def test_an_operator_closes_downloads_and_confirms_over_the_api(
        self, api, paid_project, wendy, olga
    ):
        work(paid_project, wendy)
        client = api(olga)

        created = client.post(
            "/api/v1/payout-batches/", {"currency": "USD"}, HTTP_IDEMPOTENCY_KEY="k-1"
        )
        replay = client.post(
            "/api/v1/payout-batches/", {"currency": "USD"}, HTTP_IDEMPOTENCY_KEY="k-1"
        )
        fresh = client.post("/api/v1/payout-batches/", {"currency": "USD"})

        assert created.status_code == 201, created.json()
        body = created.json()
        assert body["status"] == "closed" and body["total_minor"] == 125
        assert [line["username"] for line in body["lines"]] == ["wendy"]
        assert replay.status_code == 201 and replay.json()["id"] == body["id"]
        assert fresh.status_code == 409 and fresh.json()["error"]["code"] == "conflict"

        listing = client.get("/api/v1/payout-batches/")
        assert listing.status_code == 200 and listing.json()["count"] == 1

        download = client.get(f"/api/v1/payout-batches/{body['id']}/csv/")
        assert download.status_code == 200
        assert download["Content-Type"].startswith("text/csv")
        assert b",wendy,,1.25,USD" in download.content

        url = f"/api/v1/payout-batches/{body['id']}/mark-paid/"
        first = client.post(url, {"external_reference": "tr_9"})
        second = client.post(url, {"external_reference": "tr_9"})
        other = client.post(url, {"external_reference": "tr_10"})
        assert first.status_code == second.status_code == 200
        assert first.json()["paid_at"] == second.json()["paid_at"]
        assert other.status_code == 409
        assert books_total() == 0

    @pytest.mark.parametrize("persona", ["alice", "wendy", "aldo", "rita"])
    def test_nobody_but_operators_reaches_payouts(self, request, api, paid_project, olga, persona):
        work(paid_project, request.getfixturevalue("wendy"))
        batch = payout_batch_close(currency="USD", actor=olga)
        client = api(request.getfixturevalue(persona))

        assert client.get("/api/v1/payout-batches/").status_code == 403
        assert client.post("/api/v1/payout-batches/", {"currency": "USD"}).status_code == 403
        assert client.get(f"/api/v1/payout-batches/{batch.pk}/csv/").status_code == 403
        mark = client.post(
            f"/api/v1/payout-batches/{batch.pk}/mark-paid/", {"external_reference": "x"}
        )
        assert mark.status_code == 403
        batch.refresh_from_db()
        assert batch.status == "closed"
        assert api().get("/api/v1/payout-batches/").status_code in (401, 403)

    def test_differing_header_and_field_keys_are_refused(self, api, paid_project, wendy, olga):
        work(paid_project, wendy)
        response = api(olga).post(
            "/api/v1/payout-batches/",
            {"currency": "USD", "idempotency_key": "a"},
            HTTP_IDEMPOTENCY_KEY="b",
        )
        assert response.status_code == 400
        assert not PayoutBatch.objects.exists()


# --- PostgreSQL: concurrent closes and confirmations ----------------------------------------


def _run_at_once(targets):
    barrier = threading.Barrier(len(targets))
    results: list = []
    errors: list[BaseException] = []

    def body(target):
        try:
            barrier.wait()
            results.append(target())
        except BaseException as exc:  # collected, then asserted on in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a close hung (deadlock?)"
    return results, errors


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_closes_serialise_and_pay_each_balance_once(alice, olga):
    project = factories.make_project(owner=alice, reward_minor=100)
    fund(project, 100_000)
    workers = [factories.make_user() for _ in range(6)]
    for n, worker in enumerate(workers, 1):
        for _ in range(n):
            work(project, worker)

    results, errors = _run_at_once(
        [lambda: payout_batch_close(currency="USD", actor=olga) for _ in range(6)]
    )

    assert len(results) == 1, errors
    assert len(errors) == 5 and all(isinstance(e, Conflict) for e in errors), errors
    batch = results[0]
    assert sorted(batch.lines.values_list("amount_minor", flat=True)) == [
        100,
        200,
        300,
        400,
        500,
        600,
    ]
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT).count() == 6
    assert _paid_out() == 2100 and all(payable(w) == 0 for w in workers)
    assert books_total() == 0


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_keyed_close_return_one_batch(alice, olga):
    project = factories.make_project(owner=alice, reward_minor=100)
    fund(project, 10_000)
    work(project, factories.make_user())

    results, errors = _run_at_once(
        [
            lambda: payout_batch_close(currency="USD", actor=olga, request_key="same").pk
            for _ in range(4)
        ]
    )

    assert not errors and len(set(results)) == 1
    assert PayoutBatch.objects.count() == 1 and _paid_out() == 100


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_record_one_payment(alice, olga):
    project = factories.make_project(owner=alice, reward_minor=100)
    fund(project, 10_000)
    work(project, factories.make_user())
    batch = payout_batch_close(currency="USD", actor=olga)

    results, errors = _run_at_once(
        [
            lambda: payout_batch_mark_paid(batch=batch, actor=olga, external_reference="tr").paid_at
            for _ in range(4)
        ]
    )

    assert not errors and len(set(results)) == 1
    assert _paid_out() == 100 and books_total() == 0
