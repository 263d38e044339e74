"""The ledger. Amounts are integers in minor units of one currency; never floats.

Double entry by construction: each LedgerEntry row moves ``amount_minor`` from ``credit`` to
``debit``, so every movement is balanced and the books sum to zero. Balances are derived
from entries, never stored. Every entry has a permanent idempotency key, unique in the
database, so a retried approval or a redelivered task cannot pay twice.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class AccountKind(models.TextChoices):
    FUNDING = "funding", "Funding (money in from outside)"
    PROJECT_BUDGET = "project_budget", "Project budget, available"
    PROJECT_RESERVED = "project_reserved", "Project budget, reserved for live leases"
    WORKER_PAYABLE = "worker_payable", "Owed to a worker"
    PAID_OUT = "paid_out", "Paid out (money out to workers)"


class LedgerAccount(models.Model):
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=AccountKind.values), name="ledgeraccount_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="ledgeraccount_currency_iso4217"
            ),
            # Project accounts name a project, worker accounts a worker, system accounts neither.
            models.CheckConstraint(
                condition=(
                    Q(
                        kind__in=["project_budget", "project_reserved"],
                        project__isnull=False,
                        worker__isnull=True,
                    )
                    | Q(kind="worker_payable", project__isnull=True, worker__isnull=False)
                    | Q(kind__in=["funding", "paid_out"], project__isnull=True, worker__isnull=True)
                ),
                name="ledgeraccount_owner_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency", "project"],
                condition=Q(project__isnull=False),
                name="ledgeraccount_unique_project",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency", "worker"],
                condition=Q(worker__isnull=False),
                name="ledgeraccount_unique_worker",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(project__isnull=True, worker__isnull=True),
                name="ledgeraccount_unique_system",
            ),
        ]

    def __str__(self) -> str:
        owner = self.project or self.worker or "system"
        return f"{self.kind} {self.currency} ({owner})"


class EntryKind(models.TextChoices):
    FUND = "fund", "Budget funded"
    RESERVE = "reserve", "Reward reserved (for label slots or a lease)"
    RELEASE = "release", "Reservation released"
    REWARD = "reward", "Reward for approved work"
    BONUS = "bonus", "Bonus"
    PAYOUT = "payout", "Paid out"


class LedgerEntry(models.Model):
    # Unique by a constraint in Meta, not unique=True, which would add a LIKE index that no
    # query uses and every reservation would write.
    idempotency_key = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    # Indexed by (debit, id) and (credit, id) in Meta, which serve every lookup by account.
    debit = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="debits", db_index=False
    )
    credit = models.ForeignKey(
        LedgerAccount, on_delete=models.PROTECT, related_name="credits", db_index=False
    )
    amount_minor = models.BigIntegerField()
    assignment = models.ForeignKey(
        "assignment.Assignment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    memo = models.TextField(blank=True)
    # Indexed in Meta where set: the claims' reservations have none.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(
                fields=["created_by"],
                condition=Q(created_by__isnull=False),
                name="ledgerentry_created_by",
            ),
            # A balance reads the entries after its account's checkpoint: a range per side,
            # answered from the index alone.
            models.Index(
                fields=["debit", "id"], include=["amount_minor"], name="ledgerentry_debit_since"
            ),
            models.Index(
                fields=["credit", "id"], include=["amount_minor"], name="ledgerentry_credit_since"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="ledgerentry_unique_key"),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="ledgerentry_positive"),
            models.CheckConstraint(
                condition=~Q(debit=F("credit")), name="ledgerentry_two_accounts"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=EntryKind.values), name="ledgerentry_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_minor} ({self.idempotency_key})"


class BalanceCheckpoint(models.Model):
    """An account's balance over its entries up to ``upto_entry_id``. A balance is the
    checkpoint plus the entries after it, so reading one costs the entries since the last
    checkpoint, not the account's whole history. Written only once every transaction that
    could still hold an entry below ``upto_entry_id`` has ended; see :mod:`crowd.pay.ledger`."""

    account = models.OneToOneField(
        LedgerAccount, on_delete=models.PROTECT, primary_key=True, related_name="checkpoint"
    )
    upto_entry_id = models.BigIntegerField()
    balance_minor = models.BigIntegerField()
    taken_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.account}: {self.balance_minor} up to entry {self.upto_entry_id}"


# --- Bonuses and payouts -------------------------------------------------------------------


class BonusRuleKind(models.TextChoices):
    TOP_AGREEMENT = "top_agreement", "Top agreement with gold in the period"


class BonusPeriod(models.TextChoices):
    DAY = "day", "Daily (UTC days)"
    WEEK = "week", "Weekly (UTC weeks from Monday)"


class BonusRule(models.Model):
    """An automatic bonus: every completed period, the top ``top_n`` workers of the project get
    ``amount_minor`` from its budget. Paid once per (rule, period, worker) by ledger key."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="bonus_rules"
    )
    kind = models.CharField(
        max_length=20, choices=BonusRuleKind.choices, default=BonusRuleKind.TOP_AGREEMENT
    )
    amount_minor = models.BigIntegerField()
    top_n = models.PositiveSmallIntegerField(default=3)
    period = models.CharField(max_length=8, choices=BonusPeriod.choices, default=BonusPeriod.WEEK)
    min_scored = models.PositiveSmallIntegerField(
        default=5, help_text="Scored answers a worker needs in the period to be ranked"
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="bonusrule_positive"),
            models.CheckConstraint(condition=Q(top_n__gte=1), name="bonusrule_top_n_from_1"),
            models.CheckConstraint(
                condition=Q(kind__in=BonusRuleKind.values), name="bonusrule_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(period__in=BonusPeriod.values), name="bonusrule_period_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} bonus of {self.amount_minor} to the top {self.top_n} ({self.period})"


class PayoutBatchStatus(models.TextChoices):
    OPEN = "open", "Open (being assembled)"
    CLOSED = "closed", "Closed (ledger paid out, awaiting confirmation)"
    PAID = "paid", "Paid (transfer confirmed)"


class PayoutBatch(models.Model):
    """Every worker's payable balance in one currency at one moment, turned into payout lines.

    Closing posts the PAYOUT entries (the payment in the books); marking paid only records the
    outside transfer's confirmation, so a retried confirmation cannot pay twice.
    """

    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=8, choices=PayoutBatchStatus.choices, default=PayoutBatchStatus.OPEN
    )
    request_key = models.CharField(
        max_length=200,
        null=True,
        blank=True,
        unique=True,
        help_text="The client's Idempotency-Key: a retried close returns this batch",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    external_reference = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "payout batches"
        constraints = [
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payoutbatch_currency_iso4217"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PayoutBatchStatus.values), name="payoutbatch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(closed_at__isnull=False),
                name="payoutbatch_closed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid")
                | (Q(paid_at__isnull=False) & ~Q(external_reference="")),
                name="payoutbatch_paid_has_confirmation",
            ),
        ]

    def __str__(self) -> str:
        return f"payout batch {self.pk} ({self.currency}, {self.status})"


class PayoutLine(models.Model):
    """One worker's share of a batch; ``entry`` is its PAYOUT ledger entry (used once ever)."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="lines")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_lines"
    )
    amount_minor = models.BigIntegerField()
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="payout_line")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payoutline_positive"),
            models.UniqueConstraint(fields=["batch", "worker"], name="payoutline_one_per_worker"),
        ]

    def __str__(self) -> str:
        return f"payout line {self.pk}: {self.amount_minor} to {self.worker_id}"


# --- Review of work: decisions and appeals -------------------------------------------------


class ReviewOutcome(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class ReviewDecision(models.Model):
    """One approval or rejection of an assignment (manual, automatic, a reversal), with its
    evidence: the audit trail of review. Append-only; the assignment row holds the outcome."""

    assignment = models.ForeignKey(
        "assignment.Assignment", on_delete=models.PROTECT, related_name="review_decisions"
    )
    decision = models.CharField(max_length=8, choices=ReviewOutcome.choices)
    automatic = models.BooleanField(default=False)
    evidence = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(decision__in=ReviewOutcome.values), name="reviewdecision_valid"
            ),
            # A person decides, or the system does; never neither.
            models.CheckConstraint(
                condition=Q(automatic=True) | Q(actor__isnull=False),
                name="reviewdecision_manual_has_actor",
            ),
        ]
        indexes = [models.Index(fields=["assignment", "created_at"])]

    def __str__(self) -> str:
        how = "auto" if self.automatic else f"by {self.actor_id}"
        return f"{self.decision} of assignment {self.assignment_id} ({how})"


class AppealOutcome(models.TextChoices):
    UPHELD = "upheld", "Rejection upheld"
    REVERSED = "reversed", "Rejection reversed (approved and paid)"


class Appeal(models.Model):
    """A worker's one appeal against a rejection; the manager's answer is final."""

    assignment = models.OneToOneField(
        "assignment.Assignment", on_delete=models.PROTECT, related_name="appeal"
    )
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(blank=True)
    outcome = models.CharField(max_length=8, choices=AppealOutcome.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(message=""), name="appeal_has_message"),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=AppealOutcome.values),
                name="appeal_outcome_valid",
            ),
            # Open (nothing decided) or decided (outcome, answer, who and when): nothing between.
            models.CheckConstraint(
                condition=Q(outcome="", decided_at__isnull=True, decided_by__isnull=True)
                | (
                    ~Q(outcome="")
                    & ~Q(answer="")
                    & Q(decided_at__isnull=False, decided_by__isnull=False)
                ),
                name="appeal_decided_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"appeal of assignment {self.assignment_id} ({self.outcome or 'open'})"
