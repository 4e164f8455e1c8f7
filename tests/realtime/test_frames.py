import pytest
import redis.exceptions
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import OperationalError

from presence.models import Connection
from realtime.consumers.base import BaseConsumer
from tests.factories import UserFactory

from .conftest import Socket, still_usable, ws

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "text",
    ["not json", "[1, 2]", '"just a string"', '{"no_type": 1}', '{"type": 5}', "{"],
)
async def test_malformed_frame_gets_an_error_and_socket_stays_open(sock, text):
    await sock.send_text(text)
    frame = await sock.recv()
    assert frame["type"] == "error"
    assert frame["message"]
    assert await still_usable(sock)


async def test_unknown_type_gets_an_error(sock):
    await sock.send({"type": "launch_missiles"})
    frame = await sock.recv()
    assert frame["type"] == "error"
    assert "Unknown message type" in frame["message"]
    assert await still_usable(sock)


async def test_binary_frame_gets_an_error(sock):
    await sock.comm.send_to(bytes_data=b"\x00\x01")
    assert (await sock.recv())["type"] == "error"
    assert await still_usable(sock)


async def test_frame_over_64_kib_gets_an_error(sock):
    await sock.send({"type": "heartbeat", "timestamp": "x" * (64 * 1024)})
    frame = await sock.recv()
    assert frame["type"] == "error"
    assert "at most 65536 bytes" in frame["message"]
    assert await still_usable(sock)


async def test_frames_over_the_rate_get_an_error_until_the_window_passes(settings, monkeypatch):
    settings.WS_RATE_LIMIT = 3
    settings.WS_RATE_WINDOW = 10
    now = [1000.0]
    monkeypatch.setattr(BaseConsumer, "clock", staticmethod(lambda: now[0]))
    user = await sync_to_async(UserFactory)()
    s = await ws("/ws/presence/", user=user)
    await s.recv_type("online_users")
    for _ in range(3):
        await s.send({"type": "heartbeat", "timestamp": 1})
        assert (await s.recv())["type"] == "heartbeat_ack"
    await s.send({"type": "heartbeat", "timestamp": 1})
    frame = await s.recv()
    assert frame["type"] == "error"
    assert "Too many" in frame["message"]
    now[0] += 10
    assert await still_usable(s)
    await s.close()


async def test_an_unexpected_failure_is_reported_not_fatal(sock, monkeypatch):
    def boom(self):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(BaseConsumer, "_touch", boom)
    monkeypatch.setattr(BaseConsumer, "_touch_due", lambda self: True)  # refresh on this heartbeat
    await sock.send({"type": "heartbeat", "timestamp": 1})
    frame = await sock.recv()
    assert frame == {"type": "error", "message": "Something went wrong handling that message.", "code": 500}
    monkeypatch.undo()
    assert await still_usable(sock)


async def test_a_failure_while_opening_closes_only_that_socket(monkeypatch):
    user = await sync_to_async(UserFactory)()

    def broken(**kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr("realtime.consumers.base.connection_open", broken)
    s = Socket("/ws/presence/", user=user)
    assert await s.comm.connect(timeout=5) == (True, None)  # so the close code reaches the client
    assert await s.close_code() == 1011
    monkeypatch.undo()
    ok = await ws("/ws/presence/", user=user)
    assert (await ok.recv())["type"] == "online_users"
    await ok.close()


@pytest.mark.parametrize(
    "where, error",
    [
        ("realtime.consumers.base.connection_open", OperationalError("could not connect to server")),
        ("group_add", redis.exceptions.ConnectionError("refused")),
    ],
)
async def test_an_unreachable_service_refuses_new_sockets_with_1013_not_an_auth_error(
    monkeypatch, where, error
):
    user = await sync_to_async(UserFactory)()

    def unreachable(*args, **kwargs):
        raise error

    if where == "group_add":  # the channel layer in use (Redis in the services pass) fails
        monkeypatch.setattr(get_channel_layer(), "group_add", unreachable)
    else:
        monkeypatch.setattr(where, unreachable)
    s = Socket("/ws/presence/", user=user)
    assert await s.comm.connect(timeout=5) == (True, None)
    assert await s.close_code() == 1013  # try again later
    assert not await sync_to_async(Connection.objects.exists)()
    monkeypatch.undo()
    ok = await ws("/ws/presence/", user=user)  # it recovers with the service, no restart
    assert (await ok.recv())["type"] == "online_users"
    await ok.close()
