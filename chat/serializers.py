from rest_framework import serializers

from .models import ChatMessage


class ChatMessageSerializer(serializers.ModelSerializer):
    """The same shape the chat socket sends, so a reconnecting client merges both the same way."""

    sender = serializers.CharField(source="sender.name")
    sender_id = serializers.IntegerField()
    message = serializers.CharField(source="text")
    timestamp = serializers.DateTimeField(source="created_at")

    class Meta:
        model = ChatMessage
        fields = ["id", "sender", "sender_id", "message", "timestamp"]
