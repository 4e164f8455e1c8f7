from rest_framework import serializers

from common.fields import StrictCharField

from .models import LearningPost
from .services import TOPIC_MAX_LENGTH


class PostInputSerializer(serializers.Serializer):
    """Shape checks only; the rules that span fields (and the duplicate rule) live in services.
    Fields not listed here, like `creator` or `is_completed`, are ignored."""

    topic_to_learn = StrictCharField(max_length=TOPIC_MAX_LENGTH)
    topic_to_teach = StrictCharField(max_length=TOPIC_MAX_LENGTH, required=False, allow_blank=True)
    ok_with_just_learning = serializers.BooleanField(required=False)
    bounty_enabled = serializers.BooleanField(required=False)


class PostOutputSerializer(serializers.ModelSerializer):
    creator_id = serializers.IntegerField(read_only=True)
    creator_name = serializers.CharField(source="creator.name", read_only=True)
    creator_rating = serializers.DecimalField(
        max_digits=3, decimal_places=2, coerce_to_string=False, allow_null=True, read_only=True
    )

    class Meta:
        model = LearningPost
        fields = [
            "id",
            "creator_id",
            "creator_name",
            "creator_rating",
            "topic_to_learn",
            "topic_to_teach",
            "ok_with_just_learning",
            "bounty_enabled",
            "created_at",
            "is_completed",
        ]
        read_only_fields = fields


class MatchOutputSerializer(PostOutputSerializer):
    # True when they also want to learn something one of my posts teaches (learning.selectors).
    is_two_way = serializers.BooleanField(read_only=True)

    class Meta(PostOutputSerializer.Meta):
        fields = [*PostOutputSerializer.Meta.fields, "is_two_way"]
        read_only_fields = fields


class PostListQuerySerializer(serializers.Serializer):
    topic = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)
    # Bounded so an absurd id is a 400, not an integer overflow in the database driver.
    creator = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
