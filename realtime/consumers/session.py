from channels.db import database_sync_to_async

from common.events import session_group
from ledger.rates import format_credits
from ledger.selectors import balance_of
from presence.models import Connection
from tutoring import services
from tutoring.representations import session_representation

from .base import BaseConsumer

RELAYED = {"signal": "payload", "whiteboard_update": "data", "code_update": "data"}


class SessionConsumer(BaseConsumer):
    """ws/session/{session_id}/: the live session. Every action goes through tutoring.services,
    whose events (also those caused over REST) come back here through the session group."""

    kind = Connection.Kind.SESSION
    frame_types = frozenset({"timer_start", "timer_stop", "end_session", "get_credits", *RELAYED})

    async def authorize(self):
        # Entering the room is how the invitee accepts a pending session (SPEC section 6).
        session = await database_sync_to_async(services.session_join)(
            session_id=self.scope["url_route"]["kwargs"]["session_id"], user=self.user
        )
        self.session_id = session.pk
        self.group = session_group(session.pk)
        self._joined_session = session

    def group_names(self):
        return [self.group]

    def touch_session(self, *, leaving=False):
        services.attendance_touch(session_id=self.session_id, user_id=self.user.pk, leaving=leaving)

    async def on_connected(self):
        session = self._joined_session
        del self._joined_session
        state = await database_sync_to_async(session_representation)(session)
        await self.send_json({"type": "session_state", "session": state})

    # --- client frames ----------------------------------------------------------------------

    async def frame_timer_start(self, frame):
        await database_sync_to_async(services.timer_start)(session_id=self.session_id, user=self.user)

    async def frame_timer_stop(self, frame):
        await database_sync_to_async(services.timer_stop)(session_id=self.session_id, user=self.user)

    async def frame_end_session(self, frame):
        await database_sync_to_async(services.session_end)(session_id=self.session_id, user=self.user)

    async def frame_get_credits(self, frame):
        credits = await self._own_credits()
        await self.send_json({"type": "credit_balance", "credits": credits})

    async def _relay(self, frame):
        key = RELAYED[frame["type"]]
        await self.relay_to_others(
            self.group, {"type": frame["type"], key: frame.get(key), "from": self.user.pk}
        )

    frame_signal = frame_whiteboard_update = frame_code_update = _relay

    async def _own_credits(self) -> str:
        return format_credits(await database_sync_to_async(balance_of)(user=self.user))

    # --- group events -------------------------------------------------------------------------

    event_timer_started = event_timer_stopped = event_session_state = BaseConsumer.forward_event

    async def event_session_ended(self, event):
        credits = await self._own_credits()
        await self.send_json(
            {
                "type": "session_ended",
                "ended_by": event["ended_by"],
                "credit_summary": event["credit_summary"],
                "your_credits": credits,
            }
        )

    async def event_credit_update(self, event):
        # A balance is private: only its owner's sockets hear about it.
        if event["user_id"] == self.user.pk:
            await self.forward_event(event)
