from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from . import services
from .forms import UserChangeForm, UserCreationForm
from .identity import search_key
from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("id", "email", "name", "credits", "is_active", "is_staff", "date_joined", "deleted_at")
    list_filter = ("is_active", "is_staff", "is_superuser", ("deleted_at", admin.EmptyFieldListFilter))
    list_select_related = ("ledger_account",)
    search_fields = ("email", "name_key")
    ordering = ("id",)
    # Credits move only through the ledger, so they are shown here and never edited.
    readonly_fields = ("credits", "date_joined", "last_login", "deleted_at")
    fieldsets = (
        (None, {"fields": ("email", "name", "password")}),
        ("Profile", {"fields": ("availability", "credits")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login", "deleted_at")}),
    )
    actions = ["delete_accounts"]
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)

    @admin.display(description="credits")
    def credits(self, obj):
        account = getattr(obj, "ledger_account", None)
        return account.balance if account is not None else "—"

    def get_search_results(self, request, queryset, search_term):
        # Searched in the form identities are compared in, so `ａｌｉｃｅ` finds alice.
        return super().get_search_results(request, queryset, search_key(search_term))

    def has_delete_permission(self, request, obj=None):
        # The row must stay (its ledger history refers to it): "Delete account" below
        # anonymises it instead, through the same service as DELETE users/me/.
        return False

    def has_change_permission(self, request, obj=None):
        # A deleted account is a tombstone; reviving or renaming it would undo the anonymising.
        if obj is not None and obj.deleted_at is not None:
            return False
        return super().has_change_permission(request, obj)

    @admin.action(
        description="Delete the selected accounts (anonymise, keep the ledger)", permissions=["change"]
    )
    def delete_accounts(self, request, queryset):
        deleted = sum(services.account_delete(user=user) for user in queryset.filter(deleted_at__isnull=True))
        self.message_user(request, f"{deleted} account(s) deleted.", messages.SUCCESS)

    # --- "Delete account" on the user's page ------------------------------------------------

    change_form_template = "admin/accounts/user/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.delete_account_view)
        return [
            path("<int:user_id>/delete-account/", view, name="accounts_user_delete_account"),
            *super().get_urls(),
        ]

    def delete_account_view(self, request, user_id: int):
        user = get_object_or_404(User, pk=user_id)
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        if request.method == "POST":
            services.account_delete(user=user)
            self.message_user(request, f"Account {user.pk} deleted.", messages.SUCCESS)
            return redirect(reverse("admin:accounts_user_change", args=[user.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": user}
        return TemplateResponse(request, "admin/accounts/user/delete_account.html", context)
