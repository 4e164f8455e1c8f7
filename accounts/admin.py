from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .forms import UserChangeForm, UserCreationForm
from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("id", "email", "name", "credits", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser")
    list_select_related = ("ledger_account",)
    search_fields = ("email", "name")
    ordering = ("id",)
    # Credits move only through the ledger, so they are shown here and never edited.
    readonly_fields = ("credits", "date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "name", "password")}),
        ("Profile", {"fields": ("availability", "credits")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)

    @admin.display(description="credits")
    def credits(self, obj):
        account = getattr(obj, "ledger_account", None)
        return account.balance if account is not None else "—"

    def has_delete_permission(self, request, obj=None):
        # A user's ledger account protects them from deletion; deactivate instead.
        return False
