"""Server-rendered pages shared by every role: the home page is a per-role dashboard."""

from django.db.models import Count
from django.shortcuts import render

from crowd.accounts import access
from crowd.common.money import money_display


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
