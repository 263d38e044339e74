"""The double-entry ledger: accounts, idempotent postings, balances derived from entries.

Every movement is one LedgerEntry that moves ``amount_minor`` from its ``credit`` account to
its ``debit`` account, so the books always sum to zero. A posting carries a permanent
idempotency key that the database holds unique: posting the same key again returns the first
entry (a retried request, a redelivered task, a double click), and posting a different
movement under a used key is refused.

A balance is the account's checkpoint (if any) plus the entries after it. Every writer of an
entry takes a key-share lock on both its accounts *before* the entry draws its id
(:func:`accounts_key_share`; the claim's SQL does the same), and a checkpoint is taken under
the account's ``FOR UPDATE`` lock, which waits for those writers. So when a checkpoint is
taken, every entry with an id is committed, and every later entry draws a larger id: the
checkpoint is exact and nothing falls between it and the entries after it.
"""

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Count, Max, Q, Sum

from crowd.common.exceptions import Conflict, InvalidInput

from .models import AccountKind, BalanceCheckpoint, EntryKind, LedgerAccount, LedgerEntry


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
            accounts_key_share(debit.pk, credit.pk)
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


def accounts_key_share(*account_ids: int) -> None:
    """Key-share lock the accounts an entry is about to reference (see the module docstring).
    Precondition: inside the transaction that writes the entry. PostgreSQL only: SQLite runs
    one writer at a time, which gives the same guarantee."""
    connection = connections[router.db_for_write(LedgerAccount)]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {LedgerAccount._meta.db_table} WHERE id = ANY(%s) "
            "ORDER BY id FOR KEY SHARE",
            [sorted(account_ids)],
        )


def _since_checkpoint(account: LedgerAccount) -> tuple[int, dict]:
    """The account's checkpointed balance, and the totals of its entries after it."""
    upto, base = BalanceCheckpoint.objects.filter(account=account).values_list(
        "upto_entry_id", "balance_minor"
    ).first() or (0, 0)
    totals = LedgerEntry.objects.filter(
        Q(debit=account) | Q(credit=account), pk__gt=upto
    ).aggregate(
        debits=Sum("amount_minor", filter=Q(debit=account)),
        credits=Sum("amount_minor", filter=Q(credit=account)),
        entries=Count("pk"),
        last=Max("pk"),
    )
    return base + (totals["debits"] or 0) - (totals["credits"] or 0), totals


def balance(account: LedgerAccount) -> int:
    """Debits minus credits, in minor units (positive = the account holds money)."""
    return _since_checkpoint(account)[0]


def balance_checkpoint(account: LedgerAccount, *, min_entries: int = 1) -> bool:
    """Checkpoint the account's balance if at least ``min_entries`` entries came after the last
    checkpoint; returns whether it did. Precondition: the account's row is locked ``FOR
    UPDATE`` in this transaction (see the module docstring)."""
    total, since = _since_checkpoint(account)
    if since["entries"] < max(1, min_entries):
        return False
    BalanceCheckpoint.objects.update_or_create(
        account=account, defaults={"upto_entry_id": since["last"], "balance_minor": total}
    )
    return True


CHECKPOINT_EVERY = 1000  # entries since the last checkpoint that make an account due one


def account_checkpoint(account_id: int, *, min_entries: int | None = None) -> bool:
    """Lock the account and checkpoint it if it is due (``min_entries``, by default
    CHECKPOINT_EVERY), in a short transaction of its own: the lock waits for the postings in
    flight and holds new ones back for one read."""
    due = CHECKPOINT_EVERY if min_entries is None else min_entries
    with transaction.atomic():
        account = LedgerAccount.objects.select_for_update().filter(pk=account_id).first()
        return account is not None and balance_checkpoint(account, min_entries=due)


def balances_checkpoint(*, min_entries: int | None = None) -> int:
    """Checkpoint every project and system account that is due (workers' accounts grow
    slowly); returns how many."""
    busy = LedgerAccount.objects.filter(worker__isnull=True).values_list("pk", flat=True)
    return sum(account_checkpoint(pk, min_entries=min_entries) for pk in busy.iterator())


def books_total() -> int:
    """Sum of every account's balance: zero by construction (a check for tests and ops)."""
    return sum(balance(a) for a in LedgerAccount.objects.all())


__all__ = [
    "AccountKind",
    "EntryKind",
    "account_for",
    "account_checkpoint",
    "accounts_key_share",
    "balance",
    "balance_checkpoint",
    "balances_checkpoint",
    "books_total",
    "ledger_post",
]
