"""Who sees which annotations: a worker only their own, never another worker's labels."""

from django.db.models import QuerySet

from crowd.accounts import access
from crowd.accounts.models import Role

from .models import Annotation


def annotation_list_visible_for(user) -> QuerySet[Annotation]:
    if access.is_operator(user):
        return Annotation.objects.all()
    if user.role == Role.WORKER:
        return Annotation.objects.filter(worker=user)
    return Annotation.objects.filter(item__project__in=access.project_list_readable_data_for(user))
