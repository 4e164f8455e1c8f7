from channels.db import database_sync_to_async

from common.events import PRESENCE_GROUP, presence_user_group
from presence.models import Connection
from presence.selectors import ONLINE_USERS_ON_CONNECT, online_users, public_user

from .base import BaseConsumer


@database_sync_to_async
def _online_users_payload() -> list[dict]:
    return [public_user(u) for u in online_users()[:ONLINE_USERS_ON_CONNECT]]


class PresenceConsumer(BaseConsumer):
    """ws/presence/: who is online, and every change to that."""

    kind = Connection.Kind.PRESENCE

    def group_names(self):
        return [PRESENCE_GROUP, presence_user_group(self.user.pk)]

    async def on_connected(self):
        await self.send_json({"type": "online_users", "users": await _online_users_payload()})

    async def event_presence_update(self, event):
        # Everyone else hears about this user; the user's own sockets already know.
        if event["user"]["id"] == self.user.pk:
            return
        await self.send_json({"type": "presence_update", "user": event["user"], "status": event["status"]})

    # Meant for this user alone (published to their presence_user_group), sent as they are.
    event_session_invitation = event_session_response = BaseConsumer.forward_event
