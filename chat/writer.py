"""The chat writer: one per server process, it stores the chat messages of all the process's
sockets with group commit, then broadcasts each after its batch committed.

Why: a message per transaction on Channels' one database thread (a new connection, a row lock,
an insert, a commit, ~5 ms) caps a process at ~200 messages/s behind an unbounded queue. Here a
dedicated thread with its own persistent connection takes everything queued since its last
commit (at most CHAT_WRITE_BATCH) and stores it with chat.services.messages_store in one
transaction, then hands the batch to the process's chat fan-out (realtime.fanout), which
encodes each frame once and delivers it to every chat socket of its session on every process.
Under load a batch grows instead of the queue, and it waits CHAT_WRITE_LINGER_MS after its first
message for more (a tick, only while the last batch held more than one message: when idle a
message waits for no timer). The queue is bounded (CHAT_WRITE_QUEUE): a message that doesn't
fit is refused at once with a 503 the sender sees, so memory and waiting stay bounded.

Every message taken is settled exactly once: stored (then broadcast) or refused with the
ServiceError that says why (409 session ended, 404, 503 database trouble). Its socket closing
meanwhile changes nothing: the writer stores it anyway.
"""

import asyncio
import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from rest_framework import status

from common.errors import ServiceError
from realtime.fanout import chat_fanout

from .services import MessageDraft, messages_store

logger = logging.getLogger(__name__)


class WriterBusy(ServiceError):
    """The process's queue of messages to store is full: this one was not taken."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The server is too busy to take your message; it was not sent. Try again shortly."


class StoreFailed(ServiceError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "Your message could not be stored (database unavailable); it was not sent."


@dataclass
class _Item:
    draft: MessageDraft
    loop: asyncio.AbstractEventLoop  # the sender's, where the future is settled
    future: asyncio.Future


_STOP = object()


class ChatWriter:
    def __init__(self):
        self._lock = threading.Lock()
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None

    # --- the side of the sockets (event loop) ----------------------------------------------

    def submit(self, draft: MessageDraft) -> asyncio.Future:
        """Queue `draft`; the returned future (of the running loop) resolves to the stored
        ChatMessage after its batch committed, or to the ServiceError that refused it. Raises
        WriterBusy when the queue is full: nothing was queued."""
        loop = asyncio.get_running_loop()
        item = _Item(draft=draft, loop=loop, future=loop.create_future())
        try:
            self._running_queue().put_nowait(item)
        except queue.Full:
            raise WriterBusy() from None
        return item.future

    def _running_queue(self) -> queue.Queue:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._queue = queue.Queue(maxsize=settings.CHAT_WRITE_QUEUE)
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="chat-writer", daemon=True
                )
                self._thread.start()
            return self._queue

    def stop(self, timeout: float = 10) -> None:
        """Store what is queued, close the writer's connection and end its thread (tests, and
        any caller that must let go of the database); the next submit starts a new one."""
        with self._lock:
            thread, pending = self._thread, self._queue
            self._thread = self._queue = None
        if thread is None:
            return
        pending.put(_STOP)  # blocking: behind everything already queued
        thread.join(timeout)

    # --- the writer thread ---------------------------------------------------------------

    def _run(self, pending: queue.Queue):
        under_load = False  # the last batch held more than one message
        try:
            while True:
                batch = [pending.get()]
                if under_load and batch[0] is not _STOP and settings.CHAT_WRITE_LINGER_MS > 0:
                    # A short tick for the messages already on their way: each batch costs ~0.5 ms
                    # of CPU whatever its size (docs/realtime.md, "The writer's linger").
                    time.sleep(settings.CHAT_WRITE_LINGER_MS / 1000)
                while batch[-1] is not _STOP and len(batch) < settings.CHAT_WRITE_BATCH:
                    try:
                        batch.append(pending.get_nowait())
                    except queue.Empty:
                        break
                stopping = batch[-1] is _STOP
                items = [item for item in batch if item is not _STOP]
                under_load = len(items) > 1
                if items:
                    try:
                        self._write(items)
                    except Exception:  # a bug here must not strand the senders or the thread
                        logger.exception("settling a batch of %d chat messages failed", len(items))
                        self._fail(items)
                if stopping:
                    return
        finally:
            connection.close()

    def _write(self, items: list[_Item]):
        outcomes, broadcasts = self._store_isolating([item.draft for item in items])
        # Committed: every socket of each session gets its messages (realtime.fanout), then each
        # sender's loop learns the outcome of its messages (refusals become error frames).
        chat_fanout.publish(broadcasts)
        per_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for item, outcome in zip(items, outcomes, strict=True):
            per_loop.setdefault(item.loop, []).append((item.future, outcome))
        for loop, settled in per_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # that loop is closed: its sockets are gone, the rows stay
                logger.warning("chat messages stored for an event loop that has closed")

    def _fail(self, items: list[_Item]):
        for item in items:
            with contextlib.suppress(RuntimeError):  # a closed loop has nobody left to tell
                item.loop.call_soon_threadsafe(_settle, [(item.future, StoreFailed())])

    def _store_isolating(self, drafts: list[MessageDraft]):
        """messages_store, surviving any error: a batch the database refuses (say, a sender
        deleted meanwhile breaks a foreign key) is stored message by message, so one bad message
        fails alone; an unreachable database fails the batch at once."""
        try:
            return self._store(drafts)
        except (OperationalError, InterfaceError):
            logger.exception("storing a batch of %d chat messages failed", len(drafts))
            return [StoreFailed() for _ in drafts], []
        except Exception:
            if len(drafts) == 1:
                logger.exception("storing a chat message failed")
                return [StoreFailed()], []
            logger.warning("a batch of %d chat messages failed; one by one now", len(drafts), exc_info=True)
        outcomes, broadcasts = [], []
        for draft in drafts:
            outcome, broadcast = self._store_isolating([draft])
            outcomes += outcome
            broadcasts += broadcast
        return outcomes, broadcasts

    def _store(self, drafts: list[MessageDraft]):
        try:
            return messages_store(drafts=drafts)
        except (OperationalError, InterfaceError):
            # A persistent connection goes stale (the database restarted, an idle timeout):
            # reconnect and try once more. Nothing of the failed transaction was committed.
            logger.warning("chat writer reconnecting after a database error", exc_info=True)
            connection.close()
            return messages_store(drafts=drafts)


def _settle(settled):
    """On the senders' loop: each future gets its stored message or the ServiceError."""
    for future, outcome in settled:
        if future.done():  # cancelled by its sender
            continue
        if isinstance(outcome, ServiceError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


# The one writer of this process.
chat_writer = ChatWriter()
