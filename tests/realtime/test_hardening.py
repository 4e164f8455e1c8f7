"""Sockets against hostile or stale clients: frames that break parsers, consumers that die, users
with many sockets, and credentials that stop being valid while the socket is open."""

import asyncio
from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from bench.server import free_port
from presence.models import Connection
from realtime.consumers.base import BaseConsumer
from realtime.consumers.presence import PresenceConsumer
from realtime.ratelimit import user_within_rate
from tests.factories import ActiveSessionFactory, UserFactory

from .conftest import still_usable, ws

pytestmark = pytest.mark.django_db(transaction=True)


def live_refreshers() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if "_refresh_forever" in repr(t.get_coro())]


async def no_refresher_left() -> bool:
    # A refresher that closed its own socket finishes a moment after the client sees the close.
    for _ in range(100):
        if not live_refreshers():
            return True
        await asyncio.sleep(0.01)
    return False


async def connection_count() -> int:
    return await sync_to_async(Connection.objects.count)()


def nested(depth: int):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


# --- frames that break parsers -------------------------------------------------------------


async def test_deeply_nested_frame_gets_an_error_and_socket_stays_open(sock):
    # 2 KB of brackets made json.loads raise RecursionError, which killed the consumer.
    await sock.send_text("[" * 1000 + "]" * 1000)
    frame = await sock.recv()
    assert frame["type"] == "error" and frame["code"] == 400
    assert await still_usable(sock)


async def test_frame_nested_deeper_than_the_limit_is_refused(sock):
    # Parses fine here, but forwarding it could still exhaust a peer's JSON encoder.
    await sock.send({"type": "heartbeat", "timestamp": nested(40)})
    frame = await sock.recv()
    assert frame["type"] == "error"
    assert "nested" in frame["message"]
    assert await still_usable(sock)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_numbers_json_cannot_carry_back_are_refused(sock, number):
    # json.dumps would echo or relay them as NaN/Infinity, which a browser's JSON.parse rejects.
    await sock.send_text(f'{{"type": "heartbeat", "timestamp": {number}}}')
    assert (await sock.recv())["type"] == "error"
    assert await still_usable(sock)


async def test_relay_with_a_lone_surrogate_is_refused_not_forwarded():
    session = await sync_to_async(ActiveSessionFactory)()
    a = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    b = await ws(f"/ws/session/{session.pk}/", user=session.user2)
    await a.recv_type("session_state")
    await b.recv_type("session_state")
    await a.send_text('{"type": "signal", "payload": "a\\ud800b"}')
    frame = await a.recv()
    assert frame["type"] == "error" and frame["code"] == 400
    assert "surrogate" in frame["message"]
    assert await b.silent()
    await a.close()
    await b.close()


@pytest.mark.parametrize(
    "timestamp",
    ["x" * 65, {"a": 1}, [1], True],
    ids=["string-65-chars", "object", "array", "boolean"],
)
async def test_heartbeat_timestamp_must_be_a_number_or_a_short_string(sock, timestamp):
    await sock.send({"type": "heartbeat", "timestamp": timestamp})
    frame = await sock.recv()
    assert frame["type"] == "error" and frame["code"] == 400
    assert "timestamp" in frame["message"]


@pytest.mark.parametrize(
    "timestamp", [1712345678901, 1.5, "x" * 64, None], ids=["int", "float", "str-64", "none"]
)
async def test_heartbeat_echoes_acceptable_timestamps(sock, timestamp):
    await sock.send({"type": "heartbeat", "timestamp": timestamp})
    assert await sock.recv() == {"type": "heartbeat_ack", "timestamp": timestamp}


# --- a consumer that dies cleans up --------------------------------------------------------


async def test_consumer_dying_of_an_unexpected_exception_leaves_nothing_behind(monkeypatch):
    user = await sync_to_async(UserFactory)()
    s = await ws("/ws/presence/", user=user)
    await s.recv_type("online_users")
    assert len(live_refreshers()) == 1

    async def bug(self, text_data=None, bytes_data=None):
        raise RuntimeError("a bug outside every handler's guard")

    monkeypatch.setattr(PresenceConsumer, "receive", bug)
    await s.send({"type": "heartbeat"})
    with pytest.raises(RuntimeError):
        await s.comm.receive_output(timeout=5)
    await asyncio.sleep(0)
    assert await no_refresher_left()
    assert await connection_count() == 0


async def test_cancelled_consumer_leaves_nothing_behind():
    user = await sync_to_async(UserFactory)()
    s = await ws("/ws/presence/", user=user)
    await s.recv_type("online_users")
    s.comm.future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await s.comm.future
    assert await no_refresher_left()
    assert await connection_count() == 0


async def test_a_failing_event_handler_does_not_kill_the_socket(sock, monkeypatch):
    failed = asyncio.Event()

    async def bug(self, event):
        failed.set()
        raise RuntimeError("bad event")

    monkeypatch.setattr(PresenceConsumer, "event_presence_update", bug)
    other = await ws("/ws/presence/", user=await sync_to_async(UserFactory)())
    await other.recv_type("online_users")
    await asyncio.wait_for(failed.wait(), timeout=5)
    monkeypatch.undo()
    assert await still_usable(sock)
    await other.close()


# --- many sockets per user -------------------------------------------------------------------


async def test_frame_budget_is_shared_by_all_sockets_of_a_user(settings, monkeypatch):
    settings.WS_RATE_LIMIT = 100
    settings.WS_USER_RATE_LIMIT = 3
    settings.WS_RATE_WINDOW = 10
    now = [1_000_000.0]
    monkeypatch.setattr(BaseConsumer, "wall_clock", staticmethod(lambda: now[0]))
    user, bystander = await sync_to_async(UserFactory.create_batch)(2)
    a = await ws("/ws/presence/", user=user)
    b = await ws("/ws/presence/", user=user)
    c = await ws("/ws/presence/", user=bystander)
    for s in (a, b, c):
        await s.recv_type("online_users")
    for s in (a, a, b):
        await s.send({"type": "heartbeat"})
        assert (await s.recv_type("heartbeat_ack"))["type"] == "heartbeat_ack"
    await b.send({"type": "heartbeat"})
    frame = await b.recv_type("error")
    assert frame["code"] == 429 and "Too many" in frame["message"]
    await a.send({"type": "heartbeat"})
    assert (await a.recv_type("error"))["code"] == 429
    assert await still_usable(c)  # another user's budget is their own
    now[0] += 10
    await a.send({"type": "heartbeat"})
    assert (await a.recv_type("heartbeat_ack"))["type"] == "heartbeat_ack"
    for s in (a, b, c):
        await s.close()


async def test_sockets_past_the_per_user_cap_are_closed_with_4029(settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    user = await sync_to_async(UserFactory)()
    open_ = [await ws("/ws/presence/", user=user) for _ in range(2)]
    extra = await ws("/ws/presence/", user=user)
    assert await extra.close_code() == 4029
    await extra.close()
    assert await connection_count() == 2
    assert len(live_refreshers()) == 2
    for s in open_:
        await s.close()


# --- credentials that stop being valid ------------------------------------------------------


async def test_frame_after_the_token_expired_closes_the_socket_with_4001(sock):
    later = timezone.now() + settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] + timedelta(seconds=1)
    with time_machine.travel(later, tick=True):
        await sock.send({"type": "heartbeat"})
        assert await sock.close_code() == 4001
    assert await connection_count() == 0


async def test_idle_socket_is_closed_with_4001_when_its_token_expires():
    user = await sync_to_async(UserFactory)()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=1))
    s = await ws("/ws/presence/", token=str(token))
    await s.recv_type("online_users")
    assert await s.close_code(timeout=5) == 4001
    assert await connection_count() == 0
    assert await no_refresher_left()


async def test_deactivated_user_is_closed_with_4001_by_the_refresher(monkeypatch):
    monkeypatch.setattr("realtime.consumers.base.refresh_interval_seconds", lambda: 0.05)
    session = await sync_to_async(ActiveSessionFactory)()
    s = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    await s.recv_type("session_state")
    user = session.user1
    user.is_active = False
    await sync_to_async(user.save)(update_fields=["is_active"])
    assert await s.close_code(timeout=5) == 4001
    assert await connection_count() == 0
    assert await no_refresher_left()


async def test_deactivated_user_is_closed_with_4001_on_a_heartbeat(monkeypatch):
    monkeypatch.setattr(BaseConsumer, "_touch_due", lambda self: True)  # refresh on this heartbeat
    user = await sync_to_async(UserFactory)()
    s = await ws("/ws/presence/", user=user)
    await s.recv_type("online_users")
    user.is_active = False
    await sync_to_async(user.save)(update_fields=["is_active"])
    await s.send({"type": "heartbeat", "timestamp": 1})
    assert await s.close_code(timeout=5) == 4001
    assert await connection_count() == 0


async def test_a_refresh_that_fails_once_is_retried_and_the_socket_lives_on(monkeypatch):
    monkeypatch.setattr("realtime.consumers.base.refresh_interval_seconds", lambda: 0.05)
    real_touch = BaseConsumer._touch
    calls = []

    def flaky_touch(self):
        calls.append(self.channel_name)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return real_touch(self)

    monkeypatch.setattr(BaseConsumer, "_touch", flaky_touch)
    s = await ws("/ws/presence/", user=await sync_to_async(UserFactory)())
    await s.recv_type("online_users")
    for _ in range(200):  # the refresher tries again on its next round
        if len(calls) >= 2:
            break
        await asyncio.sleep(0.01)
    assert len(calls) >= 2
    assert await still_usable(s)
    assert await connection_count() == 1
    await s.close()


async def test_the_frame_budget_holds_per_process_while_redis_is_unreachable(settings, monkeypatch):
    settings.WS_RATE_LIMIT = 100
    settings.WS_USER_RATE_LIMIT = 2
    monkeypatch.setattr(BaseConsumer, "wall_clock", staticmethod(lambda: 1_000_000.0))
    monkeypatch.setattr("common.counters._redis_url", lambda: f"redis://127.0.0.1:{free_port()}/0")
    s = await ws("/ws/presence/", user=await sync_to_async(UserFactory)())
    await s.recv_type("online_users")
    for timestamp in (1, 2):
        await s.send({"type": "heartbeat", "timestamp": timestamp})
        assert await s.recv() == {"type": "heartbeat_ack", "timestamp": timestamp}
    await s.send({"type": "heartbeat", "timestamp": 3})
    assert (await s.recv())["code"] == 429
    await s.close()


async def test_concurrent_sockets_of_one_user_share_one_budget(settings, monkeypatch):
    # Five sockets send at once with no other traffic: a read-then-write counter lets them all
    # read "under the limit" together; exactly the budget may pass.
    settings.WS_RATE_LIMIT = 100
    settings.WS_USER_RATE_LIMIT = 10
    monkeypatch.setattr(BaseConsumer, "wall_clock", staticmethod(lambda: 1_000_000.0))
    user = await sync_to_async(UserFactory)()
    sockets = [await ws("/ws/presence/", user=user) for _ in range(5)]
    for s in sockets:
        await s.recv_type("online_users")

    async def burst(s):
        for i in range(6):
            await s.send({"type": "heartbeat", "timestamp": i})
        return [(await s.recv())["type"] for _ in range(6)]

    answers = [t for per_socket in await asyncio.gather(*(burst(s) for s in sockets)) for t in per_socket]
    assert answers.count("heartbeat_ack") == 10
    assert answers.count("error") == 20
    for s in sockets:
        await s.close()


async def test_budgets_of_many_users_do_not_evict_each_other(settings):
    # Django's local-memory cache keeps 300 entries: past that, budgets vanished and failed open.
    settings.WS_USER_RATE_LIMIT = 2
    now = 1_000_000.0
    users = range(1, 451)
    for _ in range(2):
        for user_id in users:
            assert await user_within_rate(user_id=user_id, now=now)
    refused = [u for u in users if not await user_within_rate(user_id=u, now=now)]
    assert refused == list(users)
    assert await user_within_rate(user_id=1, now=now + settings.WS_RATE_WINDOW)  # next window


async def test_chat_message_with_a_nul_gets_an_error_frame():
    session = await sync_to_async(ActiveSessionFactory)()
    s = await ws(f"/ws/chat/{session.pk}/", user=session.user1)
    await s.send_text('{"type": "chat_message", "message": "a\\u0000b"}')
    frame = await s.recv_type("error")
    assert frame["code"] == 400 and "NUL" in frame["message"]
    await s.close()
