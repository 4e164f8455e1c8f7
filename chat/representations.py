"""The one shape of a chat message, shared by the REST history and the chat socket, so a
reconnecting client merges both the same way."""

from rest_framework import serializers

from .models import ChatMessage


class ChatMessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sender = serializers.CharField(source="sender.name")
    sender_id = serializers.IntegerField()
    message = serializers.CharField(source="text")
    timestamp = serializers.DateTimeField(source="created_at")


def message_representation(message: ChatMessage) -> dict:
    """JSON-ready data (the timestamp as DRF renders it), fit for any channel layer."""
    return dict(ChatMessageOutput(message).data)
