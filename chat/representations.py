"""The one shape of a chat message, shared by the REST history and the chat socket, so a
reconnecting client merges both the same way."""

from datetime import UTC

from rest_framework import serializers

from .models import ChatMessage


class ChatMessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sender = serializers.CharField(source="sender.name")
    sender_id = serializers.IntegerField()
    message = serializers.CharField(source="text")
    timestamp = serializers.DateTimeField(source="created_at")


def message_representation(message: ChatMessage) -> dict:
    """JSON-ready data, exactly what ChatMessageOutput renders (a test holds them equal), built
    by hand: the chat writer makes one per stored message, and a serializer instance deep-copies
    its fields each time, which was a third of the writer's time under load."""
    timestamp = message.created_at.astimezone(UTC).isoformat()
    return {
        "id": message.pk,
        "sender": message.sender.name,
        "sender_id": message.sender_id,
        "message": message.text,
        # As DRF renders an aware UTC datetime (TIME_ZONE is UTC): "Z", not "+00:00".
        "timestamp": timestamp.removesuffix("+00:00") + "Z" if timestamp.endswith("+00:00") else timestamp,
    }
