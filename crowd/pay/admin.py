from django.contrib import admin

from .models import (
    Appeal,
    BalanceCheckpoint,
    BonusRule,
    LedgerAccount,
    LedgerEntry,
    PayoutBatch,
    PayoutLine,
    ReviewDecision,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money and its audit trail are written by services only (idempotency keys, locks,
    balanced pairs); the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(admin.ModelAdmin):
    list_display = ("kind", "currency", "project", "worker")
    list_filter = ("kind", "currency")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "kind", "debit", "credit", "amount_minor", "created_at")
    list_filter = ("kind",)


@admin.register(BalanceCheckpoint)
class BalanceCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("account", "balance_minor", "upto_entry_id", "taken_at")


@admin.register(BonusRule)
class BonusRuleAdmin(admin.ModelAdmin):
    list_display = ("project", "kind", "amount_minor", "top_n", "period", "active")
    list_filter = ("kind", "period", "active")


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    list_display = ("pk", "currency", "status")
    list_filter = ("status", "currency")


@admin.register(PayoutLine)
class PayoutLineAdmin(ReadOnlyAdmin):
    list_display = ("batch", "worker", "amount_minor")


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdmin):
    list_display = ("assignment", "decision", "automatic", "actor")
    list_filter = ("decision", "automatic")


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("assignment", "outcome", "created_at", "decided_at")
    list_filter = ("outcome",)
