"""Server-rendered pages shared by every role: the home page is a per-role dashboard."""

from decimal import Decimal

from django.db.models import Count
from django.shortcuts import render

from crowd.accounts import access

# ISO 4217 currencies whose minor unit is not the cent; every other code has two decimals.
_MINOR_DIGITS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"], 0),
    **dict.fromkeys(["RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def money_display(minor: int, currency: str) -> str:
    """Format integer minor units for people: ``money_display(5, "USD") == "0.05 USD"``."""
    digits = _MINOR_DIGITS.get(currency, 2)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f} {currency}"


def _dashboard(user) -> dict:
    projects = access.project_list_visible_for(user).select_related("label_schema").order_by("name")
    if not access.can_see_project_people(user):
        # Workers see what a task pays, never how much data a project holds.
        rows = [
            {"project": p, "reward": money_display(p.reward_minor, p.currency)} for p in projects
        ]
        return {"dashboard": "worker", "rows": rows}
    projects = projects.annotate(item_count=Count("items"))
    rows = [
        {
            "project": p,
            "reward": money_display(p.reward_minor, p.currency),
            "budget": money_display(p.budget_minor, p.currency),
        }
        for p in projects
    ]
    kind = "operator" if access.is_operator(user) else user.role
    return {"dashboard": kind, "rows": rows}


def home(request):
    context = _dashboard(request.user) if request.user.is_authenticated else {}
    return render(request, "home.html", context)
