"""Who sees which annotations: a worker only their own, never another worker's labels."""

from django.db.models import QuerySet

from crowd.accounts.selectors import is_operator, project_list_readable_data_for

from .models import Annotation


def annotation_list_visible_for(user) -> QuerySet[Annotation]:
    if is_operator(user):
        return Annotation.objects.all()
    if user.role == "worker":
        return Annotation.objects.filter(worker=user)
    return Annotation.objects.filter(item__project__in=project_list_readable_data_for(user))
