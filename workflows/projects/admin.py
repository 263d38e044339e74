from django.contrib import admin

from .models import Category, Dataset, Item, LabelSchema, Project


class CategoryInline(admin.TabularInline):
    model = Category
    extra = 0


@admin.register(LabelSchema)
class LabelSchemaAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "created_at")
    list_filter = ("kind",)
    inlines = [CategoryInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "status", "min_redundancy", "max_redundancy", "reward_minor")
    list_filter = ("status",)
    search_fields = ("name",)
    filter_horizontal = ("auditors", "reviewers")


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "created_by", "created_at")


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "original_name", "state", "is_gold", "slots_taken")
    list_filter = ("state", "is_gold", "project")
    readonly_fields = ("width", "height", "content_hash", "slots_taken")
