from django.contrib import admin

from .models import Annotation


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("id", "item", "worker", "source", "kind", "created_at")
    list_filter = ("source", "kind")
    raw_id_fields = ("item", "assignment", "worker")
