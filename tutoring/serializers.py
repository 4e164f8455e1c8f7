"""Input validation for the session endpoints. Output shapes live in representations.py."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from learning.models import LearningPost

from .services import DECISIONS


class SessionCreateInput(serializers.Serializer):
    user2 = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.filter(is_active=True))
    learning_request = serializers.PrimaryKeyRelatedField(
        queryset=LearningPost.objects.all(), required=False, allow_null=True
    )


class SessionRespondInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DECISIONS)
