"""The ledger in the admin: visible, never editable. Credits move only through the services."""

from django.contrib import admin

from .models import Account, Payment, Transfer


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "user", "balance", "last_support_at")
    list_filter = ("kind",)
    search_fields = ("user__email", "user__name")
    list_select_related = ("user",)
    ordering = ("id",)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "kind",
        "amount",
        "source",
        "destination",
        "session_id",
        "source_balance_after",
        "destination_balance_after",
    )
    list_filter = ("kind", "created_at")
    search_fields = ("idempotency_key", "=session_id", "source__user__email", "destination__user__email")
    list_select_related = ("source__user", "destination__user")
    date_hierarchy = "created_at"


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "session_id",
        "learner",
        "teacher",
        "owed",
        "paid",
        "cut",
        "shortfall",
    )
    search_fields = ("idempotency_key", "=session_id")
    list_select_related = ("learner__user", "teacher__user")
    date_hierarchy = "created_at"
