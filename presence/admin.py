from django.contrib import admin

from .models import Connection


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    # Written only by the socket layer; the admin shows who is connected where.
    list_display = ["id", "user", "kind", "session_id", "process", "opened_at", "last_seen_at"]
    list_filter = ["kind"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
