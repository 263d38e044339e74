"""Pages about money: a worker's Earnings page and the Costs table of the projects a manager
owns (or an auditor audits). Server-rendered; figures come from ``earnings`` selectors."""

from decimal import ROUND_HALF_EVEN, Decimal

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from crowd.accounts import access
from crowd.common.money import money_display

from .earnings import project_costs, worker_earnings


def _money(minor, currency: str) -> str:
    if minor is None:
        return "—"
    if isinstance(minor, Decimal):
        minor = int(minor.to_integral_value(rounding=ROUND_HALF_EVEN))
    return money_display(minor, currency)


@login_required
def earnings_page(request):
    figures = worker_earnings(worker=request.user)
    totals = [
        {
            "currency": c.currency,
            "payable": _money(c.payable_minor, c.currency),
            "pending": _money(c.pending_minor, c.currency),
            "pending_count": c.pending_count,
            "approved": _money(c.approved_minor, c.currency),
            "approved_count": c.approved_count,
            "rejected_count": c.rejected_count,
            "bonuses": _money(c.bonus_minor, c.currency),
            "paid_out": _money(c.paid_out_minor, c.currency),
            "hourly": _money(c.hourly_rate_minor, c.currency),
            "hours": round(c.approved_seconds / 3600, 1),
        }
        for c in figures.currencies
    ]
    for rows, key, money_key in (
        (figures.pending, "expected_minor", "expected"),
        (figures.approved, "reward_minor", "reward"),
        (figures.bonuses, "amount_minor", "amount"),
        (figures.payouts, "amount_minor", "amount"),
    ):
        for row in rows:
            row[money_key] = _money(row[key], row["currency"])
    return render(request, "pay/earnings.html", {"totals": totals, "e": figures})


@login_required
def costs_page(request):
    user = request.user
    if not access.can_read_reports(user):
        raise Http404("costs are for managers and auditors")
    projects = access.project_list_reports_readable_by(user)
    rows = [
        {
            "cost": c,
            "rewards": _money(c.rewards_minor, c.currency),
            "bonuses": _money(c.bonuses_minor, c.currency),
            "spent": _money(c.spent_minor, c.currency),
            "per_item": _money(c.cost_per_item_minor, c.currency),
        }
        for c in project_costs(projects=projects)
    ]
    return render(request, "pay/costs.html", {"rows": rows})
