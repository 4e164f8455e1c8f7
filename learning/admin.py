from django.contrib import admin

from .models import LearningPost


@admin.register(LearningPost)
class LearningPostAdmin(admin.ModelAdmin):
    list_display = ["id", "creator", "topic_to_learn", "topic_to_teach", "is_completed", "created_at"]
    list_filter = ["is_completed", "bounty_enabled", "ok_with_just_learning"]
    search_fields = ["topic_to_learn", "topic_to_teach", "creator__name", "creator__email"]
    list_select_related = ["creator"]
    raw_id_fields = ["creator"]
