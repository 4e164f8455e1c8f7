"""What every Link & Learn socket shares: authentication close codes, JSON-object frames with a
`type`, size and rate limits, error frames instead of crashes, and registration in the presence
store for as long as the socket is open (refreshed in the background, so a crashed process's
connections expire on their own). A socket lives no longer than its access token or its user's
active flag, and whatever way a consumer ends, nothing of it lives on."""

import asyncio
import contextlib
import json
import logging
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model

from common.errors import Forbidden, Invalid, NotFound, ServiceError
from common.events import user_group
from common.outages import UNREACHABLE
from presence.services import (
    TooManyConnections,
    UserGone,
    connection_close,
    connection_open,
    connections_refresh,
    process_beat_if_due,
)

from .. import frames
from ..background import ensure_background_sweeper
from ..ratelimit import ConnectionRate, user_within_rate

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_TOO_MANY_CONNECTIONS = 4029
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013  # a service we need (Redis, the database) is unreachable right now
LAYER_TIMEOUT = 5.0  # seconds a channel-layer call at connect may take
MAX_TIMESTAMP_CHARS = 64


def refresh_interval_seconds() -> float:
    """Often enough that neither the presence TTL nor the timer grace period can lapse between
    two refreshes of a healthy connection."""
    return min(settings.PRESENCE_TTL, settings.TIMER_DISCONNECT_GRACE).total_seconds() / 3


class BaseConsumer(AsyncWebsocketConsumer):
    kind: str = ""  # presence.models.Connection.Kind
    clock = staticmethod(time.monotonic)  # the rate limiter's clock; tests replace it
    # Token expiry and the per-user rate window, both compared across processes; tests replace it.
    wall_clock = staticmethod(time.time)
    frame_types: frozenset[str] = frozenset()  # client frame types handled by `frame_<type>`

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = None
        self.session_id = None
        self._joined_groups: list[str] = []
        self._registered = False
        self._refresher: asyncio.Task | None = None
        self._rate = ConnectionRate()
        self._token_exp: float | None = None
        self._closing = False
        self._last_touch = float("-inf")  # wall_clock() of the last refresh in the shared store
        self._accepted = False
        self._close_sent = False

    # --- lifecycle ------------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except UNREACHABLE as exc:
            # The channel layer (Redis) failed under us, e.g. while waiting for group events: the
            # client is told to come back later instead of losing the socket without a word.
            logger.warning("socket %s ends: %r", self.channel_name, exc)
            await self._try_again_later()
        finally:
            # An exception, a cancellation or a lost disconnect must not leave a refresher keeping
            # the user online (and their teaching timer running) forever.
            await self._cleanup()

    async def dispatch(self, message):
        if message["type"].startswith("websocket."):
            await self._handle(message)
            return
        try:
            await self._handle(message)
        except Exception:  # one bad group event must not kill the socket it was meant for
            logger.exception("handling %r on %s failed", message["type"], self.channel_name)

    async def _handle(self, message):
        # Channels' own dispatch first runs close_old_connections through database_sync_to_async
        # for every frame and every group event: a hop onto the one database thread, queued
        # behind every socket's database work, thousands of times a second under chat load. Our
        # database work runs in database_sync_to_async (which does that cleanup itself) or on
        # the chat writer's own connection, so the handler is called directly.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.user = self.scope.get("user")
        if self.user is None or not self.user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self._token_exp = self.scope.get("token_exp")
        try:
            await self.authorize()
            await self._open()
        except (NotFound, Forbidden):
            await self._refuse(CLOSE_FORBIDDEN)
            await self._cleanup()
        except TooManyConnections:
            await self._refuse(CLOSE_TOO_MANY_CONNECTIONS)
            await self._cleanup()
        except UserGone:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            await self._cleanup()
        except UNREACHABLE as exc:
            # Redis or the database is down: the client may retry later, and can tell this from
            # an auth refusal (which an HTTP 403 before the handshake could not say).
            logger.warning("refusing %s for now: %r", self.channel_name, exc)
            await self._cleanup()
            await self._try_again_later()
        except Exception:  # a bug: refuse this socket, keep serving
            logger.exception("opening %s failed", self.channel_name)
            await self._cleanup()
            await self._refuse(CLOSE_INTERNAL_ERROR)

    async def _open(self):
        # Everything others must see happens before the handshake completes, so a client that
        # got its "open" can rely on being registered and announced.
        # The user's own group first: an account deleted from here on reaches this socket
        # (accounts.services.account_delete), or connection_open below refuses it.
        for group in [user_group(self.user.pk), *self.group_names()]:
            # A Redis that hangs instead of refusing must not hold the handshake forever.
            await asyncio.wait_for(self.channel_layer.group_add(group, self.channel_name), LAYER_TIMEOUT)
            self._joined_groups.append(group)
        await database_sync_to_async(connection_open)(
            connection_id=self.channel_name, user=self.user, kind=self.kind, session_id=self.session_id
        )
        self._registered = True
        self._last_touch = self.wall_clock()
        await database_sync_to_async(self.touch_session)()
        await self.before_accept()
        await self.accept()
        ensure_background_sweeper()
        self._refresher = asyncio.ensure_future(self._refresh_forever())
        await self.on_connected()

    async def disconnect(self, code):
        await self._cleanup()

    async def _end(self, code: int):
        """Let go of everything, then close from the server side: a client that sees the close
        is already offline, whether or not it ever answers."""
        if self._closing:
            return
        self._closing = True
        await self.before_server_close()
        await self._cleanup()
        await self.close(code=code)

    async def _cleanup(self):
        """Idempotent: stop refreshing, leave the groups, forget the connection."""
        refresher, self._refresher = self._refresher, None
        if refresher is not None and refresher is not asyncio.current_task():
            refresher.cancel()
        groups, self._joined_groups = self._joined_groups, []
        try:
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:  # the layer's entries expire by themselves
            logger.exception("leaving the groups of %s failed", self.channel_name)
        if not self._registered:
            return
        self._registered = False
        try:
            await database_sync_to_async(connection_close)(connection_id=self.channel_name)
            # The moment they left is the last moment they were present in the session.
            await database_sync_to_async(self.touch_session)(leaving=True)
            await self.on_disconnected()
        except Exception:  # a failing cleanup must not take the worker down; expiry finishes it
            logger.exception("cleanup of %s failed", self.channel_name)

    async def _refuse(self, code: int):
        # Custom close codes only reach the client after the handshake completed.
        if not self._accepted:
            await self.accept()
        await self.close(code=code)

    async def _try_again_later(self):
        if self._close_sent:
            return
        with contextlib.suppress(Exception):  # the client may be gone already
            await self._refuse(CLOSE_TRY_AGAIN_LATER)

    async def accept(self, subprotocol=None, headers=None):
        self._accepted = True
        await super().accept(subprotocol=subprotocol, headers=headers)

    async def close(self, code=None, reason=None):
        self._close_sent = True
        await super().close(code=code, reason=reason)

    # --- hooks for the concrete consumers -------------------------------------------------

    async def authorize(self) -> None:
        """Raise NotFound/Forbidden to refuse the authenticated user (close code 4003)."""

    def group_names(self) -> list[str]:
        return []

    async def before_accept(self) -> None:
        """Announcements to the groups, made before the client sees the socket open."""

    async def on_connected(self) -> None:
        """First frames to the client, right after the handshake."""

    async def on_disconnected(self) -> None:
        pass

    async def before_server_close(self) -> None:
        """The server is about to close the socket (e.g. its token expired): last frames."""

    def touch_session(self, *, leaving: bool = False) -> None:
        """Runs in a worker thread on connect, on every refresh and on leaving: a consumer bound
        to a session marks the user present in it there (always written when `leaving`)."""

    # --- keeping the connection alive in the shared store ---------------------------------

    def _token_expired(self) -> bool:
        return self._token_exp is not None and self.wall_clock() >= self._token_exp

    def _touch(self) -> bool:
        """False (and nothing refreshed) when the user was deactivated or deleted meanwhile."""
        if not get_user_model().objects.filter(pk=self.user.pk, is_active=True).exists():
            return False
        process_beat_if_due()
        missing = connections_refresh(connection_ids=[self.channel_name])
        if missing:
            # A sweep expired us (this process stalled past the TTL): register again, which
            # announces the user online again if that sweep announced them offline.
            connection_open(
                connection_id=self.channel_name, user=self.user, kind=self.kind, session_id=self.session_id
            )
        self.touch_session()
        self._last_touch = self.wall_clock()
        return True

    def _touch_due(self) -> bool:
        # The background refresher keeps the store fresh; a client heartbeating every second
        # must not turn that into four queries a second. A heartbeat refreshes only when the
        # last refresh is a while old (e.g. the refresher is late).
        return self.wall_clock() - self._last_touch >= refresh_interval_seconds() / 3

    def _next_check_in(self, interval: float) -> float:
        # Wake up when the token expires, not up to one interval later.
        if self._token_exp is None:
            return interval
        return max(0.0, min(interval, self._token_exp - self.wall_clock() + 0.01))

    async def _refresh_forever(self):
        interval = refresh_interval_seconds()
        while self._registered:
            await asyncio.sleep(self._next_check_in(interval))
            if self._token_expired():
                await self._end(CLOSE_UNAUTHENTICATED)
                return
            try:
                active = await database_sync_to_async(self._touch)()
            except TooManyConnections:  # expired while stalled, and the user opened others since
                await self._end(CLOSE_TOO_MANY_CONNECTIONS)
                return
            except Exception:
                logger.exception("refreshing connection %s failed", self.channel_name)
                continue
            if not active:
                await self._end(CLOSE_UNAUTHENTICATED)
                return

    # --- frames in ------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self._closing:
            return
        if self._token_expired():
            await self._end(CLOSE_UNAUTHENTICATED)
            return
        if not self._rate.allow(self.clock()) or not await user_within_rate(
            user_id=self.user.pk, now=self.wall_clock()
        ):
            await self.send_error("Too many messages; slow down.", code=429)
            return
        if text_data is None:
            await self.send_error("Frames must be JSON text, not binary.")
            return
        if len(text_data.encode("utf-8")) > settings.WS_MAX_FRAME_BYTES:
            await self.send_error(f"Frames must be at most {settings.WS_MAX_FRAME_BYTES} bytes.", code=413)
            return
        try:
            frame = frames.parse(text_data)
        except frames.BadFrame as exc:
            await self.send_error(exc.message)
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error('Each frame must be a JSON object with a string "type".')
            return
        frame_type = frame["type"]
        if frame_type != "heartbeat" and frame_type not in self.frame_types:
            await self.send_error(f"Unknown message type: {frame_type[:64]!r}.")
            return
        try:
            await getattr(self, "frame_" + frame_type)(frame)
        except ServiceError as exc:
            await self.send_error(exc.message, code=exc.status_code)
        except Exception:
            logger.exception("handling a %r frame on %s failed", frame_type, self.channel_name)
            await self.send_error("Something went wrong handling that message.", code=500)

    async def frame_heartbeat(self, frame):
        timestamp = frame.get("timestamp")
        if not _echoable(timestamp):
            raise Invalid(
                f'"timestamp" must be a number or a string of at most {MAX_TIMESTAMP_CHARS} characters.'
            )
        if self._touch_due() and not await database_sync_to_async(self._touch)():
            await self._end(CLOSE_UNAUTHENTICATED)
            return
        await self.send_json({"type": "heartbeat_ack", "timestamp": timestamp})

    # --- frames out -----------------------------------------------------------------------

    async def send_json(self, content: dict):
        await self.send(text_data=json.dumps(content))

    async def send_error(self, message: str, *, code: int = 400):
        await self.send_json({"type": "error", "message": message, "code": code})

    async def relay_to_others(self, group: str, frame: dict):
        """Send `frame` to every socket in `group` except the sender's own (all of their tabs)."""
        await self.channel_layer.group_send(
            group, {"type": "relay.frame", "sender_id": self.user.pk, "frame": frame}
        )

    async def forward_event(self, event):
        """Send a published event (common.events.publish) to the client as a frame of its type."""
        payload = {k: v for k, v in event.items() if k not in ("type", "event")}
        await self.send_json({"type": event["event"], **payload})

    async def event_account_closed(self, event):
        """The account was deleted (on whichever process): close now, not at the next refresh."""
        await self._end(CLOSE_UNAUTHENTICATED)

    async def relay_frame(self, message):
        if message["sender_id"] != self.user.pk:
            await self.send_json(message["frame"])


def _echoable(timestamp) -> bool:
    if timestamp is None:
        return True
    if isinstance(timestamp, bool):
        return False
    if isinstance(timestamp, int | float):
        return True  # frames.parse already refused non-finite numbers
    return isinstance(timestamp, str) and len(timestamp) <= MAX_TIMESTAMP_CHARS
