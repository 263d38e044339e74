"""Building blocks for the API: role-scoped viewsets whose writes go through services."""

from rest_framework import mixins, viewsets
from rest_framework.exceptions import PermissionDenied


class ScopedViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Reads see ``visible_queryset()``; anything else is a 404, so ids do not leak.

    Writes on a visible object also need ``can_change(obj)``, else 403: seeing a project
    (an auditor, a worker) never means changing it.
    """

    read_actions: tuple[str, ...] = ("list", "retrieve")
    # Query parameters the view reads itself, beyond filters and pagination; any other is a
    # 400 (crowd/common/query_params.py). Per action: ``@action(..., extra_query_params=...)``.
    extra_query_params: tuple[str, ...] = ()

    def visible_queryset(self):
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return self.queryset
        return self.visible_queryset()

    def can_change(self, obj) -> bool:
        raise NotImplementedError

    def check_object_permissions(self, request, obj):
        super().check_object_permissions(request, obj)
        if self.action not in self.read_actions and not self.can_change(obj):
            raise PermissionDenied("you may read this but not change it")
