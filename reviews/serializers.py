from rest_framework import serializers

from common.fields import StrictCharField

from .models import Review
from .services import COMMENT_MAX_LENGTH


class ReviewInputSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = StrictCharField(max_length=COMMENT_MAX_LENGTH, required=False, allow_blank=True)


class ReviewOutputSerializer(serializers.ModelSerializer):
    reviewer_name = serializers.CharField(source="reviewer.name", read_only=True)
    reviewee_name = serializers.CharField(source="reviewee.name", read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "session",
            "reviewer",
            "reviewer_name",
            "reviewee",
            "reviewee_name",
            "rating",
            "comment",
            "created_at",
        ]
        read_only_fields = fields
