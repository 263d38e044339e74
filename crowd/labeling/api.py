"""Annotation API (read side; submission arrives with the pipeline)."""

from crowd.common.api import ScopedViewSet

from .models import Annotation
from .selectors import annotation_list_visible_for
from .serializers import AnnotationSerializer


class AnnotationViewSet(ScopedViewSet):
    queryset = Annotation.objects.none()
    serializer_class = AnnotationSerializer
    filterset_fields = ["item", "source", "worker"]

    def visible_queryset(self):
        return annotation_list_visible_for(self.request.user).order_by("id")

    def can_change(self, obj) -> bool:
        return False
