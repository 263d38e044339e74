"""The double-entry ledger: accounts, idempotent postings, balances derived from entries.

Every movement is one LedgerEntry that moves ``amount_minor`` from its ``credit`` account to
its ``debit`` account, so the books always sum to zero. A posting carries a permanent
idempotency key that the database holds unique: posting the same key again returns the first
entry (a retried request, a redelivered task, a double click), and posting a different
movement under a used key is refused.
"""

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum

from crowd.common.exceptions import Conflict, InvalidInput

from .models import AccountKind, EntryKind, LedgerAccount, LedgerEntry


def account_for(*, kind: str, currency: str, project=None, worker=None) -> LedgerAccount:
    """The one account of this kind and owner (created on first use, race-safe)."""
    lookup = {"kind": kind, "currency": currency, "project": project, "worker": worker}
    account = LedgerAccount.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(**lookup)
    except IntegrityError:
        return LedgerAccount.objects.get(**lookup)


def ledger_post(
    *,
    key: str,
    kind: str,
    debit: LedgerAccount,
    credit: LedgerAccount,
    amount_minor: int,
    assignment=None,
    memo: str = "",
    actor=None,
) -> LedgerEntry:
    """Record one movement exactly once under ``key``; see the module docstring."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise InvalidInput("an amount must be a positive whole number of minor units")
    if kind not in EntryKind.values:
        raise InvalidInput(f"unknown ledger entry kind {kind!r}")
    if debit.currency != credit.currency:
        raise InvalidInput("a movement stays within one currency")
    fields = {
        "kind": kind,
        "debit": debit,
        "credit": credit,
        "amount_minor": amount_minor,
        "assignment": assignment,
    }
    try:
        with transaction.atomic():
            return LedgerEntry.objects.create(
                idempotency_key=key, memo=memo, created_by=actor, **fields
            )
    except IntegrityError:
        existing = LedgerEntry.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        same = all(
            getattr(existing, f"{name}_id" if name in ("debit", "credit", "assignment") else name)
            == (value.pk if hasattr(value, "pk") else value)
            for name, value in fields.items()
        )
        if not same:
            raise Conflict(
                f"ledger key {key!r} was already used for a different movement"
            ) from None
        return existing


def balance(account: LedgerAccount) -> int:
    """Debits minus credits, in minor units (positive = the account holds money)."""
    totals = LedgerEntry.objects.filter(Q(debit=account) | Q(credit=account)).aggregate(
        debits=Sum("amount_minor", filter=Q(debit=account)),
        credits=Sum("amount_minor", filter=Q(credit=account)),
    )
    return (totals["debits"] or 0) - (totals["credits"] or 0)


def books_total() -> int:
    """Sum of every account's balance: zero by construction (a check for tests and ops)."""
    return sum(balance(a) for a in LedgerAccount.objects.all())


__all__ = ["AccountKind", "EntryKind", "account_for", "balance", "books_total", "ledger_post"]
