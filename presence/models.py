from django.conf import settings
from django.db import models


class ServerProcess(models.Model):
    """A server process that holds connections. It beats every few seconds while it runs; one
    whose beat is older than PRESENCE_PROCESS_TIMEOUT is dead, and so are all its connections,
    together, long before any of them would reach PRESENCE_TTL."""

    id = models.CharField(primary_key=True, max_length=64)  # host:pid:random
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.id


class Connection(models.Model):
    """One open WebSocket, shared knowledge of every server process.

    A user is online while they have a live connection: one whose process beat within
    PRESENCE_PROCESS_TIMEOUT and which that process refreshed within PRESENCE_TTL (a backstop for
    a connection a live process lost track of). A process that dies stops beating, so its
    connections expire within seconds instead of leaving their users online.
    """

    class Kind(models.TextChoices):
        PRESENCE = "presence", "Presence"
        CHAT = "chat", "Chat"
        SESSION = "session", "Session"

    id = models.CharField(primary_key=True, max_length=255)  # the channel name
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connections")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    session_id = models.BigIntegerField(null=True, blank=True)
    # The ServerProcess holding the socket; a plain id, so a vanished process row can't take
    # connections with it before the sweep has announced them offline.
    process = models.CharField(max_length=64, default="", db_index=True)
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "last_seen_at"], name="connection_user_seen")]

    def __str__(self):
        return f"{self.kind} connection of {self.user_id}"
