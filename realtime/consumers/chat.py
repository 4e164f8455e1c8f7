from channels.db import database_sync_to_async

from chat.services import message_post
from common.errors import Invalid
from common.events import chat_group
from presence.models import Connection
from tutoring.selectors import session_for_participant
from tutoring.services import attendance_touch

from .base import BaseConsumer


class ChatConsumer(BaseConsumer):
    """ws/chat/{session_id}/: the session's participants talk; messages are stored, then sent."""

    kind = Connection.Kind.CHAT
    frame_types = frozenset({"chat_message", "typing"})

    async def authorize(self):
        session = await database_sync_to_async(session_for_participant)(
            session_id=self.scope["url_route"]["kwargs"]["session_id"], user=self.user
        )
        self.session_id = session.pk
        self.group = chat_group(session.pk)

    def group_names(self):
        return [self.group]

    def touch_session(self, *, leaving=False):
        attendance_touch(session_id=self.session_id, user_id=self.user.pk, leaving=leaving)

    def _who(self) -> dict:
        # `user` is the display name, as `sender` is on chat messages; `user_id` identifies.
        return {"user": self.user.name, "user_id": self.user.pk}

    async def before_accept(self):
        await self.relay_to_others(self.group, {"type": "user_joined", **self._who()})

    async def on_disconnected(self):
        await self.relay_to_others(self.group, {"type": "user_left", **self._who()})

    async def frame_chat_message(self, frame):
        # The stored message reaches every socket, this one included, through the group event.
        await database_sync_to_async(message_post)(
            session_id=self.session_id, sender=self.user, text=frame.get("message")
        )

    async def frame_typing(self, frame):
        is_typing = frame.get("is_typing")
        if not isinstance(is_typing, bool):
            raise Invalid('"is_typing" must be true or false.')
        await self.relay_to_others(self.group, {"type": "typing", **self._who(), "is_typing": is_typing})

    event_chat_message = BaseConsumer.forward_event
