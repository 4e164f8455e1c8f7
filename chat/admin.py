from django.contrib import admin

from .models import ChatMessage


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    # Messages are a record of what participants said: moderators read them, nobody rewrites them.
    list_display = ["id", "session", "sender", "created_at", "text"]
    list_select_related = ["sender"]
    search_fields = ["text", "sender__name"]
    raw_id_fields = ["session"]
    readonly_fields = ["session", "sender", "text", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
