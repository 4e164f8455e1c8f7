"""The chat fan-out: how a stored chat message reaches every chat socket of its session, on this
server process and on every other one. The one home of chat delivery (docs/realtime.md, "Chat
fan-out").

Why not the channel layer: it sends one layer message per receiving socket (the in-memory layer
deep-copies each one and scans every channel's queue for expired messages on every send and
receive: a third of the server's CPU at 1,000 msgs/s), each socket's consumer then takes it
through its receive loop and encodes the same frame again, and channels-redis counts all of a
process's sockets against one inbox capacity, so a burst dropped deliveries by the thousand.
Here, after a batch committed:

- each message's frame is encoded once (in the thread that stored it, off the event loop);
- the batch is handed to every event loop of this process that has chat sockets, one callback
  per batch, and each loop's hub puts the frames straight into the outboxes of the sockets of
  each session (no layer message, no consumer dispatch per receiver);
- with Redis (`make serve`), the batch is published once, on one pub/sub channel, for the other
  processes; each process's hub subscribes while it has chat sockets and delivers a batch from
  elsewhere exactly like one of its own (its own batches it skips: they were delivered locally).

One channel for the whole deployment, not one per session: a batch touches many sessions (at
1,000 msgs/s over 100 sessions, most of them), so per-session channels would cost a PUBLISH per
session per batch and a SUBSCRIBE/UNSUBSCRIBE per socket, against one PUBLISH per batch and one
small decode per batch per process here. Every process receives every batch; that is the right
trade for a handful of processes (measured in docs/realtime.md), not for hundreds.

Bounded everywhere: an outbox holds at most CHAT_SOCKET_QUEUE frames; a batch that doesn't fit is
dropped for that socket alone, and the next batch it gets starts with a `missed_after` error frame
(each batch names the message before it, `previous_id`). A batch that follows a gap waits up to
REORDER_WAIT_SECONDS for the batch that fills it (two processes' batches of one session can cross
on their way), so crossing costs a few milliseconds, not a needless catch-up. Redis bounds what
it buffers for a slow subscriber (it disconnects it; the hub reconnects); while Redis is
unreachable, batches reach the sockets of their own process only, and the others find the gap
the same way.
"""

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

import msgpack
import redis
import redis.asyncio
from django.conf import settings

logger = logging.getLogger(__name__)

# One session's new messages of one batch: (session id, id of the message before them or None,
# id of the last of them, their frames as JSON text).
Item = tuple[int, int | None, int, tuple[str, ...]]

# A hung Redis must not hold the writer thread (which publishes) for long; after a failure,
# publishing is skipped for RETRY_SECONDS instead of timing out batch after batch.
REDIS_TIMEOUT_SECONDS = 0.5
RETRY_SECONDS = 2.0
# How long a socket's outbox holds back a batch that follows a gap, for the batch that fills it
# (another process's, crossing on Redis) before it says `missed_after`.
REORDER_WAIT_SECONDS = 0.05
# How long a socket's handshake waits for its process's subscription (as for group_add).
SUBSCRIBE_TIMEOUT_SECONDS = 5.0


def redis_channel() -> str:
    """The pub/sub channel of this deployment. Pub/sub ignores Redis database numbers, so the
    database number is in the name: deployments (and test runs) on other databases of the same
    Redis never hear each other's chat."""
    database = urlsplit(settings.REDIS_URL).path.strip("/") or "0"
    return f"{settings.CHAT_FANOUT_CHANNEL_PREFIX}:{database}"


def remote_enabled() -> bool:
    return bool(settings.REDIS_URL) and not settings.USE_IN_MEMORY_CHANNEL_LAYER


class Outbox:
    """One chat socket's frames on their way out: bounded, drained by the socket's own sender
    task, so a slow socket holds back nobody but itself."""

    def __init__(self, send: Callable[[str], Awaitable], missed_frame: Callable[[int], str], capacity: int):
        self._send = send  # the socket's raw ASGI send of one text frame
        self._missed_frame = missed_frame
        self._capacity = capacity
        self._items: deque[Item] = deque()
        self._frames = 0
        self._wakeup: asyncio.Future | None = None
        self._task: asyncio.Task | None = None
        self.last_id: int | None = None  # the newest message this socket was sent
        self.dropped = 0  # batches that did not fit (for logs and tests)

    def offer(self, item: Item) -> None:
        """On the loop. Never waits: a batch that doesn't fit is dropped, and said so later."""
        # (An empty outbox takes any batch: one session's share of a batch is small, and bounded
        # by CHAT_WRITE_BATCH anyway.)
        if self._items and self._frames + len(item[3]) > self._capacity:
            self.dropped += 1
            return
        self._items.append(item)
        self._frames += len(item[3])
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def start(self) -> None:
        """After the handshake: frames offered before it waited here."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        self._items.clear()
        self._frames = 0

    def _pop_in_order(self) -> Item | None:
        """The first waiting batch that follows what was sent (its previous message was sent, or
        is older), or None when every waiting batch leaves a gap."""
        last = self.last_id
        items = self._items
        if last is None or items[0][1] is None or items[0][1] <= last:
            return items.popleft()
        for index, item in enumerate(items):
            if item[1] is None or item[1] <= last:
                del items[index]
                return item
        return None

    async def _run(self):
        loop = asyncio.get_running_loop()
        gap_since = None
        try:
            while True:
                if not self._items:
                    self._wakeup = loop.create_future()
                    await self._wakeup
                    continue
                item = self._pop_in_order()
                if item is None:
                    # A gap: the batch that fills it may be another process's, a moment behind
                    # on its way through Redis (batches of one session from two processes
                    # cross). Wait briefly for it rather than send a needless missed_after.
                    gap_since = loop.time() if gap_since is None else gap_since
                    remaining = gap_since + REORDER_WAIT_SECONDS - loop.time()
                    if remaining > 0:
                        self._wakeup = loop.create_future()
                        await asyncio.wait([self._wakeup], timeout=remaining)
                        continue
                    # Truly missed (this outbox overflowed, Redis dropped it): say where to resume.
                    item = self._items.popleft()
                    await self._send(self._missed_frame(self.last_id))
                gap_since = None
                _, _, last_id, frames = item
                self._frames -= len(frames)
                for frame in frames:
                    await self._send(frame)
                self.last_id = last_id if self.last_id is None else max(self.last_id, last_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away under us; its consumer cleans up
            logger.debug("chat outbox stopped: %r", exc)


class _Hub:
    """The chat sockets of one event loop, by session, and (with Redis) the loop's subscription."""

    def __init__(self, fanout: "ChatFanout", loop: asyncio.AbstractEventLoop):
        self.fanout, self.loop = fanout, loop
        self.sessions: dict[int, set[Outbox]] = {}
        self.subscribed = asyncio.Event()
        self._listener: asyncio.Task | None = None

    def deliver(self, items: Iterable[Item]) -> None:
        """On the loop: every item to the outboxes of its session, in the order given."""
        sessions = self.sessions
        for item in items:
            for outbox in sessions.get(item[0], ()):
                outbox.offer(item)

    def post(self, items: list[Item]) -> bool:
        """From any thread. False when the loop is closed (the hub is then forgotten)."""
        if not self.sessions:
            return True
        try:
            self.loop.call_soon_threadsafe(self.deliver, items)
        except RuntimeError:
            return False
        return True

    async def join(self, session_id: int, outbox: Outbox) -> None:
        self.sessions.setdefault(session_id, set()).add(outbox)
        if not remote_enabled():
            return
        if self._listener is None or self._listener.done():
            self._listener = asyncio.ensure_future(self._listen())
        # Subscribed before the handshake completes: a client that got its "open" hears every
        # message stored after, whichever process stored it.
        await asyncio.wait_for(self.subscribed.wait(), SUBSCRIBE_TIMEOUT_SECONDS)

    def leave(self, session_id: int, outbox: Outbox) -> None:
        outboxes = self.sessions.get(session_id)
        if outboxes is not None:
            outboxes.discard(outbox)
            if not outboxes:
                del self.sessions[session_id]
        if not self.sessions and self._listener is not None:
            self._listener.cancel()  # nobody left to deliver to on this loop
            self._listener = None
            self.subscribed.clear()

    async def _listen(self):
        delay = 0.25
        channel = redis_channel()
        while True:
            client = redis.asyncio.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                self.subscribed.set()
                delay = 0.25
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._deliver_remote(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("chat fan-out subscription lost (%r); retrying in %.2fs", exc, delay)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _deliver_remote(self, data: bytes) -> None:
        try:
            origin, items = msgpack.unpackb(data)
        except Exception:
            logger.warning("chat fan-out: an unreadable batch on %s was ignored", redis_channel())
            return
        if origin == self.fanout.origin:
            return  # this process's own batch: its hubs got it directly
        self.deliver(tuple(item) for item in items)


class ChatFanout:
    """One per process: `publish` from any thread, `join`/`leave` from the sockets' loops."""

    def __init__(self):
        self.origin = secrets.token_hex(8)  # tells this process's batches from others' on Redis
        self._lock = threading.Lock()
        self._hubs: dict[asyncio.AbstractEventLoop, _Hub] = {}
        self._redis: redis.Redis | None = None
        self._redis_down_until = 0.0

    # --- the sockets' side (event loop) ----------------------------------------------------

    def outbox(self, send, missed_frame) -> Outbox:
        return Outbox(send, missed_frame, settings.CHAT_SOCKET_QUEUE)

    async def join(self, session_id: int, outbox: Outbox) -> None:
        """From now on `outbox` gets the session's new messages (raises when Redis can't be
        subscribed to, like a failing group_add: the socket is refused with 1013)."""
        await self._hub(asyncio.get_running_loop()).join(session_id, outbox)

    def leave(self, session_id: int, outbox: Outbox) -> None:
        outbox.stop()
        hub = self._hubs.get(asyncio.get_running_loop())
        if hub is not None:
            hub.leave(session_id, outbox)

    def _hub(self, loop) -> _Hub:
        with self._lock:
            hub = self._hubs.get(loop)
            if hub is None:
                for old in [old for old in self._hubs if old.is_closed()]:
                    del self._hubs[old]
                hub = self._hubs[loop] = _Hub(self, loop)
            return hub

    # --- the writers' side (any thread, after the commit) -----------------------------------

    def publish(self, broadcasts) -> None:
        """Deliver chat.services.Broadcast`s (committed messages) to every chat socket of their
        sessions, here and on the other processes. Never raises: the messages are stored, and a
        socket that misses some is told so by the next batch it gets."""
        if not broadcasts:
            return
        try:
            items = [_item(broadcast) for broadcast in broadcasts]
            with self._lock:
                hubs = list(self._hubs.items())
            for loop, hub in hubs:
                if not hub.post(items):
                    with self._lock:
                        self._hubs.pop(loop, None)
            if remote_enabled():
                self._publish_remote(items)
        except Exception:
            logger.exception("chat fan-out of %d sessions' messages failed", len(broadcasts))

    def _publish_remote(self, items: list[Item]) -> None:
        now = time.monotonic()
        if now < self._redis_down_until:
            return
        try:
            if self._redis is None:
                self._redis = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_timeout=REDIS_TIMEOUT_SECONDS,
                    socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                )
            self._redis.publish(redis_channel(), msgpack.packb([self.origin, items]))
        except Exception as exc:
            self._redis_down_until = now + RETRY_SECONDS
            logger.warning("chat fan-out could not publish to Redis (%r): other processes miss a batch", exc)
            with contextlib.suppress(Exception):
                self._redis.close()
            self._redis = None

    def reset(self) -> None:
        """Tests: forget the Redis connection (its server may have been replaced)."""
        with self._lock:
            client, self._redis, self._redis_down_until = self._redis, None, 0.0
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


def _item(broadcast) -> Item:
    messages = broadcast.event["messages"]
    frames = tuple(json.dumps({"type": "chat_message", **message}) for message in messages)
    return (broadcast.session_id, broadcast.event["previous_id"], messages[-1]["id"], frames)


# The one fan-out of this process.
chat_fanout = ChatFanout()
