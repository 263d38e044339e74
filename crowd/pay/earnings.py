"""Reads for people: a worker's earnings (pending, approved, rejected with reasons, bonuses,
payouts, payable balance, effective hourly rate) and a project's cost per promoted item.

Money figures come from the ledger, never from counts times the current reward: a project's
reward can change, the books cannot. Pending work shows what approving it will pay, by the
same rule approval uses (:func:`crowd.pay.rewards.reward_due`).
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
)

from crowd.assignment.models import Assignment, AssignmentStatus
from workflows.golden.models import GoldenAnnotation
from workflows.projects.models import Project

from .ledger import balance
from .models import AccountKind, EntryKind, LedgerAccount, LedgerEntry, PayoutLine
from .rewards import reward_due

RECENT = 50


@dataclass
class CurrencyEarnings:
    """One currency's figures for one worker, all in integer minor units."""

    currency: str
    pending_count: int = 0
    pending_minor: int = 0  # what pending work pays if approved (rewards.reward_due)
    approved_count: int = 0
    approved_minor: int = 0  # rewards in the books
    rejected_count: int = 0
    bonus_minor: int = 0
    paid_out_minor: int = 0
    payable_minor: int = 0  # owed now: what the next payout batch will carry
    approved_seconds: int = 0
    hourly_rate_minor: int | None = None  # approved rewards per hour of approved work


@dataclass
class WorkerEarnings:
    currencies: list[CurrencyEarnings]
    pending: list[dict] = field(default_factory=list)
    approved: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    bonuses: list[dict] = field(default_factory=list)
    payouts: list[dict] = field(default_factory=list)


def _hourly(reward_minor: int, seconds: int) -> int | None:
    if seconds <= 0:
        return None
    rate = Decimal(reward_minor) * 3600 / Decimal(seconds)
    return int(rate.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def worker_earnings(*, worker, recent: int = RECENT) -> WorkerEarnings:
    """Everything a worker may know about their pay; the lists hold the ``recent`` newest rows.

    The hourly rate is approved rewards divided by the time between lease and submit of the
    approved assignments: time on rejected work is not paid, so it is not in the rate either.
    """
    by_currency: dict[str, CurrencyEarnings] = {}

    def row(currency: str) -> CurrencyEarnings:
        return by_currency.setdefault(currency, CurrencyEarnings(currency=currency))

    mine = Assignment.objects.filter(worker=worker)
    counts = (
        mine.filter(status__in=[AssignmentStatus.APPROVED, AssignmentStatus.REJECTED])
        .values("project__currency", "status")
        .annotate(n=Count("id"))
    )
    for c in counts:
        target = row(c["project__currency"])
        if c["status"] == AssignmentStatus.APPROVED:
            target.approved_count = c["n"]
        else:
            target.rejected_count = c["n"]
    pending = mine.filter(status=AssignmentStatus.SUBMITTED)
    for p in (
        pending.alias(due=reward_due())
        .values("project__currency")
        .annotate(n=Count("id"), expected=Sum("due"))
    ):
        target = row(p["project__currency"])
        target.pending_count, target.pending_minor = p["n"], p["expected"] or 0
    spent = ExpressionWrapper(F("submitted_at") - F("leased_at"), output_field=DurationField())
    for t in (
        mine.filter(status=AssignmentStatus.APPROVED, submitted_at__isnull=False)
        .values("project__currency")
        .annotate(total=Sum(spent))
    ):
        row(t["project__currency"]).approved_seconds = int(t["total"].total_seconds())

    entries = LedgerEntry.objects.all()
    for kind, side, attr in (
        (EntryKind.REWARD, "debit", "approved_minor"),
        (EntryKind.BONUS, "debit", "bonus_minor"),
        (EntryKind.PAYOUT, "credit", "paid_out_minor"),
    ):
        filters = {"kind": kind, f"{side}__worker": worker}
        if kind == EntryKind.REWARD:
            filters["assignment__status"] = AssignmentStatus.APPROVED
        for s in (
            entries.filter(**filters).values(f"{side}__currency").annotate(t=Sum("amount_minor"))
        ):
            setattr(row(s[f"{side}__currency"]), attr, s["t"])
    for account in LedgerAccount.objects.filter(kind=AccountKind.WORKER_PAYABLE, worker=worker):
        row(account.currency).payable_minor = balance(account)
    for figures in by_currency.values():
        figures.hourly_rate_minor = _hourly(figures.approved_minor, figures.approved_seconds)

    reward = LedgerEntry.objects.filter(
        kind=EntryKind.REWARD, assignment=OuterRef("pk"), debit__worker=worker
    ).values("amount_minor")[:1]
    listed = mine.select_related("project").order_by("-submitted_at", "-pk")

    def base(a: Assignment) -> dict:
        return {
            "assignment_id": a.pk,
            "project_id": a.project_id,
            "project_name": a.project.name,
            "currency": a.project.currency,
            "submitted_at": a.submitted_at,
        }

    return WorkerEarnings(
        currencies=sorted(by_currency.values(), key=lambda c: c.currency),
        pending=[
            {**base(a), "expected_minor": a.expected_minor}
            for a in listed.filter(status=AssignmentStatus.SUBMITTED).annotate(
                expected_minor=reward_due()
            )[:recent]
        ],
        approved=[
            {**base(a), "reviewed_at": a.reviewed_at, "reward_minor": a.reward_minor}
            for a in listed.filter(status=AssignmentStatus.APPROVED).annotate(
                reward_minor=Subquery(reward)
            )[:recent]
        ],
        rejected=[
            {**base(a), "reviewed_at": a.reviewed_at, "reason": a.reject_reason}
            for a in listed.filter(status=AssignmentStatus.REJECTED)[:recent]
        ],
        bonuses=[
            {
                "entry_id": e.pk,
                "project_id": e.credit.project_id,
                "project_name": e.credit.project.name if e.credit.project else "",
                "amount_minor": e.amount_minor,
                "currency": e.debit.currency,
                "reason": e.memo,
                "created_at": e.created_at,
            }
            for e in entries.filter(kind=EntryKind.BONUS, debit__worker=worker)
            .select_related("debit", "credit__project")
            .order_by("-created_at", "-pk")[:recent]
        ],
        payouts=[
            {
                "line_id": line.pk,
                "batch_id": line.batch_id,
                "amount_minor": line.amount_minor,
                "currency": line.batch.currency,
                "status": line.batch.status,
                "closed_at": line.batch.closed_at,
                "paid_at": line.batch.paid_at,
            }
            for line in PayoutLine.objects.filter(worker=worker)
            .select_related("batch")
            .order_by("-batch__closed_at", "-pk")[:recent]
        ],
    )


# --- Managers: cost per promoted item ------------------------------------------------------


@dataclass(frozen=True)
class ProjectCost:
    project_id: int
    project_name: str
    currency: str
    rewards_minor: int
    bonuses_minor: int
    labels_bought: int  # approved assignments paid a reward
    promoted_items: int  # items with a current golden annotation
    cost_per_item_minor: Decimal | None  # (rewards + bonuses) / promoted items, to 0.01 minor
    labels_per_item: Decimal | None  # labels bought / promoted items, to 0.01

    @property
    def spent_minor(self) -> int:
        return self.rewards_minor + self.bonuses_minor


def _ratio(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / denominator).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def project_costs(*, projects: QuerySet[Project]) -> list[ProjectCost]:
    """Spend and promoted items of each project, in three grouped queries whatever the count."""
    projects = list(projects.order_by("name", "pk"))
    ids = [p.pk for p in projects]
    spend: dict[tuple[int, str], dict] = {}
    for s in (
        LedgerEntry.objects.filter(
            kind__in=[EntryKind.REWARD, EntryKind.BONUS], credit__project_id__in=ids
        )
        .values("credit__project_id", "kind")
        .annotate(total=Sum("amount_minor"), n=Count("id"))
    ):
        spend[(s["credit__project_id"], s["kind"])] = s
    promoted = dict(
        GoldenAnnotation.objects.filter(project_id__in=ids, superseded_at__isnull=True)
        .values("project_id")
        .annotate(n=Count("item_id", distinct=True))
        .values_list("project_id", "n")
    )
    rows = []
    for p in projects:
        rewards = spend.get((p.pk, EntryKind.REWARD), {})
        bonuses = spend.get((p.pk, EntryKind.BONUS), {})
        rewards_minor, bonuses_minor = rewards.get("total") or 0, bonuses.get("total") or 0
        labels, items = rewards.get("n") or 0, promoted.get(p.pk, 0)
        rows.append(
            ProjectCost(
                project_id=p.pk,
                project_name=p.name,
                currency=p.currency,
                rewards_minor=rewards_minor,
                bonuses_minor=bonuses_minor,
                labels_bought=labels,
                promoted_items=items,
                cost_per_item_minor=_ratio(rewards_minor + bonuses_minor, items),
                labels_per_item=_ratio(labels, items),
            )
        )
    return rows
