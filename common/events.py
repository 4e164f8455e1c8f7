"""The one way services announce what happened to WebSocket groups.

Events go out only after the surrounding transaction commits, so no client ever hears about a
change that was rolled back, and never before the change is visible to its next request.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def session_group(session_id: int) -> str:
    return f"session.{session_id}"


def chat_group(session_id: int) -> str:
    return f"chat.{session_id}"


def user_group(user_id: int) -> str:
    """Every socket of one user, on every server process (realtime joins it on connect)."""
    return f"user.{user_id}"


PRESENCE_GROUP = "presence"


def presence_user_group(user_id: int) -> str:
    """The presence sockets (ws/presence/) of one user: where news meant for them alone goes,
    whatever page they are on (an invitation, the answer to one). Narrower than user_group,
    which every socket of the user joins (to close them all), so chat and session sockets are
    not sent what they would only drop."""
    return f"presence.user.{user_id}"


def event_message(event_type: str, payload: dict) -> dict:
    """The channel-layer message of an event: consumers handle it in `event_<event_type>`."""
    return {"type": "event." + event_type, "event": event_type, **payload}


def publish(group: str, event_type: str, payload: dict) -> None:
    """Send `{"type": "event.<event_type>", **payload}` to `group` once the transaction commits."""

    message = event_message(event_type, payload)

    def send():
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            _send(layer, group, message)
        except Exception:  # a broken channel layer must not undo a committed change
            logger.exception("publishing %s to %s failed", event_type, group)

    transaction.on_commit(send)


def _send(layer, group, message):
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(layer.group_send)(group, message)
        return
    # Inside an event loop (a consumer calling a service through database_sync_to_async runs in
    # a worker thread, so this branch is only reached by async callers): schedule, don't block.
    asyncio.ensure_future(layer.group_send(group, message))
