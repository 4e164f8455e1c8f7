from channels.generic.websocket import WebsocketConsumer
from django.urls import path, re_path

from .consumers.chat import ChatConsumer
from .consumers.presence import PresenceConsumer
from .consumers.session import SessionConsumer


class UnknownPathConsumer(WebsocketConsumer):
    """Refuses the handshake (HTTP 403) for a path no socket lives at, instead of the 500 that
    Channels' router gives when nothing matches."""

    def connect(self):
        self.close()


websocket_urlpatterns = [
    path("ws/presence/", PresenceConsumer.as_asgi()),
    path("ws/chat/<int:session_id>/", ChatConsumer.as_asgi()),
    path("ws/session/<int:session_id>/", SessionConsumer.as_asgi()),
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
