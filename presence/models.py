from django.conf import settings
from django.db import models


class Connection(models.Model):
    """One open WebSocket, shared knowledge of every server process.

    A user is online while they have a live connection: one whose process refreshed
    `last_seen_at` within PRESENCE_TTL. A process that dies stops refreshing, so its
    connections expire instead of leaving their users online forever.
    """

    class Kind(models.TextChoices):
        PRESENCE = "presence", "Presence"
        CHAT = "chat", "Chat"
        SESSION = "session", "Session"

    id = models.CharField(primary_key=True, max_length=255)  # the channel name
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    session_id = models.BigIntegerField(null=True, blank=True)
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "last_seen_at"], name="connection_user_seen")]

    def __str__(self):
        return f"{self.kind} connection of {self.user_id}"
