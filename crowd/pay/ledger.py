"""The double-entry ledger: accounts, idempotent postings, balances derived from entries.

Every movement is one LedgerEntry that moves ``amount_minor`` from its ``credit`` account to
its ``debit`` account, so the books always sum to zero. A posting carries a permanent
idempotency key that the database holds unique: posting the same key again returns the first
entry (a retried request, a redelivered task, a double click), and posting a different
movement under a used key is refused.

A balance is the account's checkpoint (if any) plus the entries after it. A checkpoint up to
entry X must hold every entry with an id below X, also one whose transaction drew its id before
X and has not committed yet. So every writer of an entry takes a key-share lock on both its
accounts *before* the entry draws its id (:func:`accounts_key_share`; the claim's SQL does the
same), which gives its transaction an id at once; and a checkpoint, having read X, waits until
every transaction that was in progress at that moment has ended, then sums the entries up to X.
Any entry below X was drawn by one of those (or had committed already): the sum is exact, and
every later entry draws a larger id. The checkpoint takes no lock that a writer waits for: the
claims go on while it waits.
"""

import time

from django.db import IntegrityError, connections, router, transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

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


def _since_checkpoint(account: LedgerAccount, *, upto: int | None = None) -> tuple[int, dict]:
    """The account's checkpointed balance plus its entries after the checkpoint (up to entry
    ``upto`` if given), and the totals of those entries."""
    base_upto, base = BalanceCheckpoint.objects.filter(account=account).values_list(
        "upto_entry_id", "balance_minor"
    ).first() or (0, 0)
    entries = LedgerEntry.objects.filter(Q(debit=account) | Q(credit=account), pk__gt=base_upto)
    if upto is not None:
        entries = entries.filter(pk__lte=upto)
    totals = entries.aggregate(
        debits=Sum("amount_minor", filter=Q(debit=account)),
        credits=Sum("amount_minor", filter=Q(credit=account)),
        entries=Count("pk"),
        last=Max("pk"),
    )
    return base + (totals["debits"] or 0) - (totals["credits"] or 0), totals


def balance(account: LedgerAccount) -> int:
    """Debits minus credits, in minor units (positive = the account holds money)."""
    return _since_checkpoint(account)[0]


CHECKPOINT_EVERY = 1000  # entries since the last checkpoint that make an account due one
CHECKPOINT_WAIT_SECONDS = 2.0  # for the transactions in flight; then it is left for next time


def _in_flight_ended(connection, *, timeout: float) -> bool:
    """Wait until every transaction in progress now (but this one) has ended; False if one
    still runs after ``timeout`` seconds. PostgreSQL only."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        # A snapshot lists the transactions in progress below its xmax only: one that took its
        # id after every transaction that has ended is not listed, though it runs. So this
        # transaction takes an id too, after the snapshot: every transaction in progress at
        # the snapshot has a listed id or one from xmax up to ours.
        cursor.execute("SELECT pg_current_snapshot()::text, pg_current_xact_id()::text")
        snapshot, ours = cursor.fetchone()
        while True:
            cursor.execute(
                "SELECT count(*) FROM ("
                " SELECT x FROM pg_snapshot_xip(%s::pg_snapshot) AS x"
                " UNION ALL"
                " SELECT n::text::xid8 FROM generate_series("
                "  pg_snapshot_xmax(%s::pg_snapshot)::text::bigint, %s::bigint - 1) AS n"
                ") AS t(x) WHERE pg_xact_status(x) = 'in progress'",
                [snapshot, snapshot, ours],
            )
            if cursor.fetchone()[0] == 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)


def account_checkpoint(account_id: int, *, min_entries: int | None = None) -> bool:
    """Checkpoint the account if it is due (``min_entries`` entries since its last checkpoint,
    by default CHECKPOINT_EVERY); returns whether it did. Blocks no writer: see the module
    docstring. Run it outside a transaction (the periodic task does): the wait for writers in
    flight is bounded by a transaction id it takes after its snapshot, which a transaction
    that already holds one cannot take (tests without concurrency may)."""
    due = max(1, CHECKPOINT_EVERY if min_entries is None else min_entries)
    connection = connections[router.db_for_write(BalanceCheckpoint)]
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql" and not _first_checkpointer(connection, account_id):
            return False  # another process is checkpointing this account right now
        account = LedgerAccount.objects.filter(pk=account_id).first()
        if account is None:
            return False
        return _checkpoint(connection, account, due=due)


_CHECKPOINT_LOCK_SPACE = 0x51554F52  # "QUOR": the first key of the advisory lock below


def _first_checkpointer(connection, account_id: int) -> bool:
    """Whether this transaction is the only one checkpointing the account: the claims that
    find it due together would otherwise all do the same work."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s, %s)", [_CHECKPOINT_LOCK_SPACE, account_id]
        )
        return cursor.fetchone()[0]


def _checkpoint(connection, account: LedgerAccount, *, due: int) -> bool:
    _, since = _since_checkpoint(account)
    last = since["last"]
    if since["entries"] < due:
        return False
    # SQLite runs one writer at a time: an entry not yet committed draws an id above ``last``.
    if connection.vendor == "postgresql" and not _in_flight_ended(
        connection, timeout=CHECKPOINT_WAIT_SECONDS
    ):
        return False
    total, _ = _since_checkpoint(account, upto=last)
    # Only forward: a concurrent checkpoint may have gone further (both are exact).
    moved = BalanceCheckpoint.objects.filter(account=account, upto_entry_id__lt=last).update(
        upto_entry_id=last, balance_minor=total, taken_at=timezone.now()
    )
    if moved:
        return True
    try:
        with transaction.atomic(using=connection.alias):
            BalanceCheckpoint.objects.create(
                account=account, upto_entry_id=last, balance_minor=total
            )
    except IntegrityError:
        return False  # a checkpoint from before this one's lock got there first
    return True


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
    "balances_checkpoint",
    "books_total",
    "ledger_post",
]
