from django.contrib import admin

from .models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "session", "reviewer", "reviewee", "rating", "created_at"]
    list_filter = ["rating"]
    search_fields = ["reviewer__name", "reviewee__name", "comment"]
    list_select_related = ["reviewer", "reviewee"]
    raw_id_fields = ["session", "reviewer", "reviewee"]
