"""The worker's annotate page: one server-rendered shell; the work itself goes through the API
(claim, submit, return, extend) from ``templates/static/annotate.js``."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from crowd.accounts import access


@login_required
@ensure_csrf_cookie
def annotate(request, project_id: int):
    """Projects a worker may not see are a 404; people who are not workers get a 403."""
    project = get_object_or_404(
        access.project_list_visible_for(request.user).select_related("label_schema"),
        pk=project_id,
    )
    if not access.can_take_tasks(request.user):
        raise PermissionDenied("only workers label items")
    context = {
        "project": project,
        "claim_url": reverse("assignment-claim-next", kwargs={"project_id": project.pk}),
        "assignments_url": reverse("assignment-list"),
    }
    return render(request, "work/annotate.html", context)
