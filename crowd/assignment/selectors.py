"""Who sees which assignments: a worker only their own; managers, reviewers and auditors
those of the projects whose data they may read."""

from django.db.models import Q, QuerySet

from crowd.accounts.selectors import is_operator, project_list_readable_data_for

from .models import Assignment, Block


def assignment_list_visible_for(user) -> QuerySet[Assignment]:
    if is_operator(user):
        return Assignment.objects.all()
    if user.role == "worker":
        return Assignment.objects.filter(worker=user)
    return Assignment.objects.filter(
        Q(project__in=project_list_readable_data_for(user)) | Q(worker=user)
    )


def block_list_visible_for(user) -> QuerySet[Block]:
    """Managers see blocks on their projects and every global block; a worker its own."""
    if is_operator(user):
        return Block.objects.all()
    if user.role == "manager":
        return Block.objects.filter(Q(project__owner=user) | Q(project__isnull=True))
    if user.role == "worker":
        return Block.objects.filter(worker=user)
    return Block.objects.filter(project__in=project_list_readable_data_for(user))


def lease_with_task(assignment: Assignment) -> Assignment:
    """The lease with what a worker needs to do it (item, project, schema and its classes), in
    two queries rather than one lazy load per field of the response."""
    return (
        Assignment.objects.select_related("item", "project__label_schema")
        .prefetch_related("project__label_schema__categories")
        .get(pk=assignment.pk)
    )
