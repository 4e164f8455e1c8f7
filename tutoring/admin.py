from django.contrib import admin

from .models import Attendance, Session, TeachingTimer


class TeachingTimerInline(admin.TabularInline):
    model = TeachingTimer
    extra = 0
    can_delete = False
    readonly_fields = ["teacher", "start_time", "end_time", "duration_seconds", "stop_reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    # Sessions settle credits: the admin shows them, it does not edit them.
    list_display = ["id", "user1", "user2", "status", "created_at", "accepted_at", "end_time"]
    list_filter = ["status"]
    list_select_related = ["user1", "user2"]
    search_fields = ["user1__name", "user2__name"]
    inlines = [TeachingTimerInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Attendance)
class AttendanceAdmin(admin.ModelAdmin):
    list_display = ["session", "user", "last_seen_at"]
    list_select_related = ["user"]
