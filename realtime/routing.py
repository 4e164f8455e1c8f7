from django.urls import path

from .consumers.chat import ChatConsumer
from .consumers.presence import PresenceConsumer
from .consumers.session import SessionConsumer

websocket_urlpatterns = [
    path("ws/presence/", PresenceConsumer.as_asgi()),
    path("ws/chat/<int:session_id>/", ChatConsumer.as_asgi()),
    path("ws/session/<int:session_id>/", SessionConsumer.as_asgi()),
]
