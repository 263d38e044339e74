"""Payout batches: close (every worker's payable balance becomes a line and a PAYOUT entry),
export as CSV for the payment provider, and mark paid when the provider confirms.

The payment, in the books, is the PAYOUT entry posted at close (worker_payable -> paid_out).
Marking paid only records the outside confirmation, so a confirmation retried after a
timeout (PERF-NOTES F13) finds the batch already paid and changes nothing.

Closes of one currency serialise on a row lock of that currency's paid_out account: the second
close waits, then sees the balances the first one emptied.
"""

import csv
import io
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from crowd.accounts.access import is_operator
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from crowd.common.money import major_units

from .bonuses import client_key_check
from .ledger import account_for, ledger_post
from .models import (
    AccountKind,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    PayoutBatch,
    PayoutBatchStatus,
    PayoutLine,
)

REFERENCE_MAX = 200


def _require_operator(actor) -> None:
    if actor is None or not is_operator(actor):
        raise Forbidden("only operators pay out the platform")


def _currency_check(currency) -> str:
    if (
        not isinstance(currency, str)
        or len(currency) != 3
        or not currency.isascii()
        or not currency.isalpha()
    ):
        raise InvalidInput("currency must be an ISO 4217 code such as USD")
    return currency.upper()


def payable_balances(*, currency: str) -> dict[int, tuple[int, int]]:
    """Worker payable accounts of ``currency`` holding money: {account id: (worker id, amount)}."""
    sums: dict[int, int] = defaultdict(int)
    owners: dict[int, int] = {}
    for side, sign in (("debit", 1), ("credit", -1)):
        rows = (
            LedgerEntry.objects.filter(
                **{f"{side}__kind": AccountKind.WORKER_PAYABLE, f"{side}__currency": currency}
            )
            .values(side, f"{side}__worker")
            .annotate(total=Sum("amount_minor"))
        )
        for row in rows:
            sums[row[side]] += sign * row["total"]
            owners[row[side]] = row[f"{side}__worker"]
    return {acc: (owners[acc], amount) for acc, amount in sums.items() if amount > 0}


def payout_batch_close(
    *, currency: str, actor, now: datetime | None = None, request_key: str | None = None
) -> PayoutBatch:
    """Close a batch: one line and one PAYOUT entry per worker with a payable balance.

    ``actor`` is an operator, or None for the scheduled task. ``request_key`` (the client's
    Idempotency-Key) makes a retried close return the batch it made. With nothing payable the
    close is refused (Conflict), so a second close never repeats the first one's lines.
    """
    if actor is not None:
        _require_operator(actor)
    currency = _currency_check(currency)
    if request_key is not None:
        request_key = client_key_check(request_key)
    paid_out = account_for(kind=AccountKind.PAID_OUT, currency=currency)
    with transaction.atomic():
        # The serialisation point of payouts in this currency (see the module docstring).
        LedgerAccount.objects.select_for_update().filter(pk=paid_out.pk).first()
        if request_key is not None:
            earlier = PayoutBatch.objects.filter(request_key=request_key).first()
            if earlier is not None:
                if earlier.currency != currency:
                    raise Conflict("this idempotency key closed a batch in another currency")
                return earlier
        payable = payable_balances(currency=currency)
        if not payable:
            raise Conflict(f"nothing to pay in {currency}")
        batch = PayoutBatch.objects.create(currency=currency, request_key=request_key)
        accounts = LedgerAccount.objects.in_bulk(list(payable))
        for account_id, (worker_id, amount) in sorted(payable.items(), key=lambda kv: kv[1][0]):
            entry = ledger_post(
                key=f"payout:{batch.pk}:{worker_id}",
                kind=EntryKind.PAYOUT,
                debit=paid_out,
                credit=accounts[account_id],
                amount_minor=amount,
                memo=f"payout batch {batch.pk}",
                actor=actor,
            )
            PayoutLine.objects.create(
                batch=batch, worker_id=worker_id, amount_minor=amount, entry=entry
            )
        batch.status = PayoutBatchStatus.CLOSED
        batch.closed_by = actor
        batch.closed_at = now or timezone.now()
        batch.save(update_fields=["status", "closed_by", "closed_at"])
    return batch


def payout_batch_mark_paid(
    *, batch: PayoutBatch, actor, external_reference: str, now: datetime | None = None
) -> PayoutBatch:
    """Record the provider's confirmation of a closed batch. Idempotent.

    Marking a paid batch again with the same reference returns it unchanged (a retry after a
    timeout); a different reference is a Conflict, because a confirmation is never rewritten.
    """
    _require_operator(actor)
    reference = external_reference.strip() if isinstance(external_reference, str) else ""
    if not reference:
        raise InvalidInput("external_reference is required (the provider's transfer id)")
    if len(reference) > REFERENCE_MAX:
        raise InvalidInput(f"external_reference has at most {REFERENCE_MAX} characters")
    with transaction.atomic():
        locked = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == PayoutBatchStatus.PAID:
            if locked.external_reference != reference:
                raise Conflict(
                    "this batch was already confirmed under another reference",
                    details={"external_reference": locked.external_reference},
                )
            return locked
        if locked.status != PayoutBatchStatus.CLOSED:
            raise Conflict("only a closed batch can be marked paid")
        locked.status = PayoutBatchStatus.PAID
        locked.paid_at = now or timezone.now()
        locked.paid_by = actor
        locked.external_reference = reference
        locked.save(update_fields=["status", "paid_at", "paid_by", "external_reference"])
    return locked


CSV_COLUMNS = ["line_id", "worker_id", "username", "payout_email", "amount", "currency"]


def _cell(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: quote them (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def payout_batch_csv(*, batch: PayoutBatch) -> str:
    """The batch's lines for the payment provider, one per worker, ordered by worker id."""
    lines = (
        PayoutLine.objects.filter(batch=batch)
        .select_related("worker__worker_profile")
        .order_by("worker_id")
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        profile = getattr(line.worker, "worker_profile", None)
        email = profile.payout_email if profile is not None else ""
        writer.writerow(
            [
                line.pk,
                line.worker_id,
                _cell(line.worker.username),
                _cell(email),
                f"{major_units(line.amount_minor, batch.currency):f}",
                batch.currency,
            ]
        )
    return out.getvalue()


def payout_batches_close_due(*, now: datetime | None = None) -> list[int]:
    """The scheduled close: one batch per currency that has anything payable; the batch ids."""
    currencies = (
        LedgerAccount.objects.filter(kind=AccountKind.WORKER_PAYABLE)
        .values_list("currency", flat=True)
        .distinct()
        .order_by("currency")
    )
    closed = []
    for currency in currencies:
        try:
            closed.append(payout_batch_close(currency=currency, actor=None, now=now).pk)
        except Conflict:
            continue  # nothing payable in this currency
    return closed
