"""The reviewer's page for a project's escalated items: a server-rendered shell; the queue and
the decisions go through the API from ``templates/static/review.js``."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from crowd.accounts import access


@login_required
@ensure_csrf_cookie
def review_queue(request, project_id: int):
    """Only the project's reviewers (and operators) decide: a 404 for whoever may not read the
    project's items, a 403 for its manager and auditors, who read them but do not decide."""
    readable = access.project_list_readable_data_for(request.user)
    project = get_object_or_404(readable.select_related("label_schema"), pk=project_id)
    if not access.can_review_items(request.user, project):
        raise PermissionDenied("only the project's reviewers decide its escalated items")
    categories = [
        {"id": c.pk, "name": c.name, "color": c.color}
        for c in project.label_schema.categories.order_by("pk")
    ]
    context = {
        "project": project,
        "kind": project.label_schema.kind,
        "categories": categories,
        "queue_url": reverse("review-queue", kwargs={"project_id": project.pk}),
        # The decision URL of item 0, for the script to fill in: /api/v1/items/0/review/.
        "decide_url": reverse("item-review", kwargs={"item_id": 0}),
    }
    return render(request, "review/queue.html", context)
