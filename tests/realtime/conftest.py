import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken

from chat.writer import chat_writer
from linklearn.asgi import application
from tests.factories import UserFactory

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture(autouse=True)
def _fresh_channel_layer(settings, monkeypatch):
    # Each async test runs on its own event loop; a layer built on an earlier loop is unusable.
    channel_layers.backends.clear()
    settings.REALTIME_BACKGROUND_SWEEP = False  # tests run the sweeps explicitly
    # ... and beat explicitly: opening a connection beats, and no test lasts a process timeout.
    monkeypatch.setattr("realtime.consumers.base.ensure_background_sweeper", lambda: None)
    # Per-user frame budgets live in the cache, keyed by user id, which a later test may reuse.
    cache.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
async def _close_thread_connections():
    yield
    # The chat writer's thread stores what is queued and lets go of its connection; the next
    # test starts a fresh one (on its own event loop).
    await sync_to_async(chat_writer.stop, thread_sensitive=False)()
    # sync_to_async in a test runs on a shared worker thread whose database connection would
    # otherwise outlive the test and keep PostgreSQL from dropping the test database.
    await sync_to_async(connections.close_all)()


def token_for(user) -> str:
    return str(AccessToken.for_user(user))


class Socket:
    """A test client socket: connect as a user (or with a raw token), send and expect frames."""

    def __init__(self, path: str, *, user=None, token: str | None = None):
        token = token if token is not None else (token_for(user) if user is not None else None)
        query = f"?token={token}" if token else ""
        self.comm = WebsocketCommunicator(application, path + query, headers=[ORIGIN])

    async def open(self):
        connected, _ = await self.comm.connect(timeout=5)
        assert connected
        return self

    async def send(self, frame: dict):
        await self.comm.send_json_to(frame)

    async def send_text(self, text: str):
        await self.comm.send_to(text_data=text)

    async def recv(self, timeout: float = 5) -> dict:
        return await self.comm.receive_json_from(timeout=timeout)

    async def recv_type(self, frame_type: str, timeout: float = 5) -> dict:
        """The next frame of `frame_type`, skipping others (e.g. joins) that may come first."""
        while True:
            frame = await self.recv(timeout=timeout)
            if frame["type"] == frame_type:
                return frame

    async def silent(self, timeout: float = 0.3) -> bool:
        return await self.comm.receive_nothing(timeout=timeout)

    async def close_code(self, timeout: float = 5):
        message = await self.comm.receive_output(timeout=timeout)
        assert message["type"] == "websocket.close", message
        return message.get("code")

    async def close(self):
        await self.comm.disconnect()


async def ws(path: str, **kwargs) -> Socket:
    return await Socket(path, **kwargs).open()


async def still_usable(s: Socket) -> bool:
    """The socket still answers a heartbeat."""
    await s.send({"type": "heartbeat", "timestamp": "t"})
    # Skip broadcasts that may still be on their way (e.g. another user's presence update).
    return (await s.recv_type("heartbeat_ack"))["timestamp"] == "t"


@pytest.fixture
async def sock():
    """An open presence socket of a fresh user, past its first frame."""
    user = await sync_to_async(UserFactory)()
    s = await ws("/ws/presence/", user=user)
    await s.recv_type("online_users")
    yield s
    await s.close()
