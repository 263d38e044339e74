"""Bonuses: one-off grants by a project's owner, and automatic rules (top agreement in a period).

A bonus moves money from the project's available budget to the worker's payable account
(project_budget -> worker_payable), exactly once per idempotency key. The budget check and the
posting happen under the row lock on the project's budget account that ``budget.py`` takes for
claims near the end of a budget, so two grants (or a grant and a claim) cannot both spend the
last of it.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

from crowd.accounts.access import can_manage_project, can_take_tasks
from crowd.assignment.models import Assignment, AssignmentStatus
from crowd.common.exceptions import Conflict, Forbidden, InvalidInput
from workflows.projects.models import Project

from .budget import budget_fund
from .ledger import account_for, balance, ledger_post
from .models import AccountKind, BonusPeriod, BonusRule, EntryKind, LedgerAccount, LedgerEntry

logger = logging.getLogger(__name__)

CLIENT_KEY_MAX = 100
REASON_MAX = 500


def amount_minor_parse(value) -> int:
    """A positive whole number of minor units from an int or a string of digits; else refuse.

    Floats are refused even when whole (``5.0``): money never passes through a float here.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("amount_minor must be a whole number of minor units (e.g. 250 = 2.50)")
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.lstrip("-").isdigit():
            raise InvalidInput("amount_minor must be a whole number of minor units (e.g. 250)")
        value = int(text)
    if value <= 0:
        raise InvalidInput("amount_minor must be positive")
    return value


def client_key_check(key) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("an idempotency key is required (Idempotency-Key header or field)")
    key = key.strip()
    if len(key) > CLIENT_KEY_MAX:
        raise InvalidInput(f"an idempotency key has at most {CLIENT_KEY_MAX} characters")
    return key


def _bonus_post(
    *, project: Project, worker, amount_minor: int, memo: str, ledger_key: str, actor
) -> LedgerEntry:
    """Post one bonus from the project's budget, or return the entry already under the key.

    Refuses with Conflict when the available budget cannot pay it. Opens its own transaction
    and locks the project's budget account row for the check-then-post.
    """
    payable = account_for(kind=AccountKind.WORKER_PAYABLE, currency=project.currency, worker=worker)
    budget = account_for(
        kind=AccountKind.PROJECT_BUDGET, currency=project.currency, project=project
    )
    movement = {"kind": EntryKind.BONUS, "debit": payable, "credit": budget}
    with transaction.atomic():
        LedgerAccount.objects.select_for_update().filter(pk=budget.pk).first()
        # Checked after the lock: a concurrent twin of this request may have just committed it,
        # and its replay must return that entry rather than fail the budget check.
        if LedgerEntry.objects.filter(idempotency_key=ledger_key).exists():
            return ledger_post(key=ledger_key, amount_minor=amount_minor, **movement)
        # Budgets are funded lazily (budget.py): bring the authorised amount into the books.
        budget_fund(project=project)
        available = balance(budget)
        if available < amount_minor:
            raise Conflict(
                "the project's available budget cannot pay this bonus",
                details={"available_minor": available, "amount_minor": amount_minor},
            )
        return ledger_post(
            key=ledger_key, amount_minor=amount_minor, memo=memo, actor=actor, **movement
        )


def bonus_grant(
    *, project: Project, worker, amount_minor, reason: str, actor, key: str | None = None
) -> LedgerEntry:
    """Pay ``worker`` a bonus of ``amount_minor`` from ``project``'s budget, with a reason.

    Only the project's owner or an operator may grant, and only to a worker who has worked on
    the project. ``key`` is the client's idempotency key: the same key on the same project
    pays once and returns the first entry (a double click, a retried request); a key reused
    for a different bonus is a Conflict. Without a key every call is a new bonus, so callers
    that can retry must pass one.
    """
    if not can_manage_project(actor, project):
        raise Forbidden("only the project's owner or an operator may grant bonuses")
    amount_minor = amount_minor_parse(amount_minor)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise InvalidInput("a bonus needs a reason; the worker sees it")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"a reason has at most {REASON_MAX} characters")
    key = uuid.uuid4().hex if key is None else client_key_check(key)
    if (
        not can_take_tasks(worker)
        or not Assignment.objects.filter(project=project, worker=worker).exists()
    ):
        raise InvalidInput("bonuses go to workers who have worked on this project")
    return _bonus_post(
        project=project,
        worker=worker,
        amount_minor=amount_minor,
        memo=reason,
        ledger_key=f"bonus:{project.pk}:{key}",
        actor=actor,
    )


def bonus_rule_create(
    *, project: Project, actor, amount_minor, top_n: int, period: str, min_scored: int = 5
) -> BonusRule:
    if not can_manage_project(actor, project):
        raise Forbidden("only the project's owner or an operator may set bonus rules")
    rule = BonusRule(
        project=project,
        amount_minor=amount_minor_parse(amount_minor),
        top_n=top_n,
        period=period,
        min_scored=min_scored,
        created_by=actor,
    )
    rule.full_clean()
    rule.save()
    return rule


def period_bounds(period: str, at: datetime) -> tuple[datetime, datetime]:
    """The last complete period (UTC days, or weeks from Monday) ending at or before ``at``."""
    midnight = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == BonusPeriod.DAY:
        return midnight - timedelta(days=1), midnight
    if period == BonusPeriod.WEEK:
        end = midnight - timedelta(days=midnight.weekday())
        return end - timedelta(days=7), end
    raise InvalidInput(f"unknown bonus period {period!r}")


@dataclass(frozen=True)
class RankedWorker:
    worker_id: int
    mean_score: Decimal
    scored: int


def bonus_rule_ranking(*, rule: BonusRule, start: datetime, end: datetime) -> list[RankedWorker]:
    """Workers by mean gold score over answers submitted in [start, end), best first.

    Rejected answers do not count; a worker needs ``rule.min_scored`` scored answers. Ties go
    to more scored answers, then the lower worker id (deterministic, so a re-run picks the same
    people).
    """
    rows = (
        Assignment.objects.filter(
            project_id=rule.project_id,
            gold_score__isnull=False,
            submitted_at__gte=start,
            submitted_at__lt=end,
            status__in=[AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED],
        )
        .values("worker")
        .annotate(mean=Avg("gold_score"), scored=Count("id"))
        .filter(scored__gte=rule.min_scored)
        .order_by("-mean", "-scored", "worker")[: rule.top_n]
    )
    return [RankedWorker(r["worker"], Decimal(str(round(r["mean"], 6))), r["scored"]) for r in rows]


def bonus_rules_apply(*, project: Project, period_end: datetime | None = None) -> list[LedgerEntry]:
    """Pay every active rule of ``project`` for its last complete period before ``period_end``.

    Safe to run any number of times: the ledger key names the rule, the period and the worker.
    When the budget runs out, the rest are skipped (logged) and paid by a later run in the same
    period once the budget is topped up.
    """
    period_end = period_end or timezone.now()
    users = get_user_model().objects
    paid: list[LedgerEntry] = []
    for rule in project.bonus_rules.filter(active=True).order_by("pk"):
        start, end = period_bounds(rule.period, period_end)
        if end <= rule.created_at:
            continue  # a rule pays for periods it saw end, never retroactively
        for rank, ranked in enumerate(bonus_rule_ranking(rule=rule, start=start, end=end), 1):
            worker = users.get(pk=ranked.worker_id)
            memo = (
                f"{rule.get_kind_display()}: #{rank} of {project.name} "
                f"{start:%Y-%m-%d}..{end:%Y-%m-%d} (mean {ranked.mean_score:.3f})"
            )
            try:
                entry = _bonus_post(
                    project=project,
                    worker=worker,
                    amount_minor=rule.amount_minor,
                    memo=memo,
                    ledger_key=f"bonus-rule:{rule.pk}:{start:%Y-%m-%d}:{ranked.worker_id}",
                    actor=None,
                )
            except Conflict:
                logger.warning("bonus rule %s: budget of project %s exhausted", rule.pk, project.pk)
                break
            paid.append(entry)
    return paid


def bonus_rules_apply_all(*, now: datetime | None = None) -> int:
    """Apply every active rule on every project that has one.

    Returns how many bonuses the current periods hold (a re-run counts the ones already paid).
    """
    projects = Project.objects.filter(bonus_rules__active=True).distinct().order_by("pk")
    return sum(len(bonus_rules_apply(project=p, period_end=now)) for p in projects)
