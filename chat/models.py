from django.conf import settings
from django.db import models


class ChatMessage(models.Model):
    session = models.ForeignKey("tutoring.Session", on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["session", "id"], name="message_session_order")]

    def __str__(self):
        return f"{self.sender_id} in {self.session_id}: {self.text[:40]}"
