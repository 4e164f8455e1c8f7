import asyncio
import json
import logging

from channels.db import database_sync_to_async
from rest_framework import status

from chat.services import MessageDraft, message_text_clean
from chat.writer import chat_writer
from common.errors import Invalid, ServiceError
from common.events import chat_group
from presence.models import Connection
from realtime.fanout import chat_fanout
from tutoring.selectors import session_for_participant
from tutoring.services import attendance_touch

from .base import BaseConsumer

logger = logging.getLogger(__name__)

# Messages of one socket taken but not yet settled: one socket can't fill the process's queue.
MAX_IN_FLIGHT = 50
# How long a server-side close waits for the socket's messages in flight, so it can report them.
SETTLE_BEFORE_CLOSE_SECONDS = 5


class TooManyInFlight(ServiceError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = "Too many of your messages are waiting to be stored; this one was not sent. Slow down."


class ChatConsumer(BaseConsumer):
    """ws/chat/{session_id}/: the session's participants talk; messages are stored, then sent."""

    kind = Connection.Kind.CHAT
    frame_types = frozenset({"chat_message", "typing"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._in_flight: set[asyncio.Future] = set()
        self._reports: set[asyncio.Task] = set()
        self._gone = False
        # Where the process's chat fan-out puts this socket's chat_message frames.
        self._outbox = chat_fanout.outbox(self._send_text, self._missed_frame)
        self._joined_fanout = False

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
        # Joined before the handshake completes (frames wait in the outbox until it has): a
        # client that got its "open" receives every message stored from then on.
        self._joined_fanout = True
        await chat_fanout.join(self.session_id, self._outbox)
        await self.relay_to_others(self.group, {"type": "user_joined", **self._who()})

    async def on_connected(self):
        self._outbox.start()

    async def _cleanup(self):
        if self._joined_fanout:
            self._joined_fanout = False
            chat_fanout.leave(self.session_id, self._outbox)
        await super()._cleanup()

    async def on_disconnected(self):
        self._gone = True
        await self.relay_to_others(self.group, {"type": "user_left", **self._who()})

    async def before_server_close(self):
        # Messages in flight settle first, so the client hears of any that were refused.
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=SETTLE_BEFORE_CLOSE_SECONDS)
        if self._reports:
            await asyncio.wait(set(self._reports), timeout=SETTLE_BEFORE_CLOSE_SECONDS)

    # --- sending ----------------------------------------------------------------------------

    async def frame_chat_message(self, frame):
        """Checked here, then handed to the process's chat writer without waiting for it, so
        the socket keeps reading; a refusal comes back later as an error frame. A stored message
        reaches every socket, this one included, through the chat fan-out."""
        text = message_text_clean(frame.get("message"))
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            raise TooManyInFlight()
        future = chat_writer.submit(MessageDraft(session_id=self.session_id, sender=self.user, text=text))
        self._in_flight.add(future)
        future.add_done_callback(self._message_settled)

    def _message_settled(self, future: asyncio.Future):
        self._in_flight.discard(future)
        if future.cancelled() or future.exception() is None:
            return
        refusal = future.exception()
        if self._gone:
            # Nobody to tell any more: the client finds the gap in the history when it returns.
            logger.warning("a message of closed socket %s was not stored: %s", self.channel_name, refusal)
            return
        report = asyncio.ensure_future(self.send_error(refusal.message, code=refusal.status_code))
        self._reports.add(report)
        report.add_done_callback(self._reports.discard)

    async def frame_typing(self, frame):
        is_typing = frame.get("is_typing")
        if not isinstance(is_typing, bool):
            raise Invalid('"is_typing" must be true or false.')
        await self.relay_to_others(self.group, {"type": "typing", **self._who(), "is_typing": is_typing})

    # --- receiving --------------------------------------------------------------------------

    async def _send_text(self, text: str):
        # Straight to the ASGI server: the frame was encoded once for all of the session's sockets.
        await self.base_send({"type": "websocket.send", "text": text})

    def _missed_frame(self, last_id: int) -> str:
        """Sent before a batch when messages between the last one sent here and that batch did
        not reach this socket (its outbox overflowed, Redis dropped them, or two processes'
        batches crossed): the client is told where to resume from."""
        return json.dumps(
            {
                "type": "error",
                "code": status.HTTP_503_SERVICE_UNAVAILABLE,
                "message": "Some chat messages did not reach this socket; fetch "
                f"/api/sessions/{self.session_id}/messages/?after={last_id} to catch up.",
                "missed_after": last_id,
            }
        )
