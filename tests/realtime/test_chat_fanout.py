"""The chat fan-out (realtime/fanout.py) as the users of a chat see it: every socket of the
session gets each stored message once, in order, whichever process stored it; a socket too slow
to keep up is told what it missed instead of growing the server's memory or holding back the
others."""

import asyncio
import json

import msgpack
import pytest
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings

from chat.services import Broadcast, message_post
from realtime.consumers.chat import ChatConsumer
from realtime.fanout import chat_fanout, redis_channel, remote_enabled
from tests.factories import ActiveSessionFactory

from .conftest import ws

pytestmark = pytest.mark.django_db(transaction=True)


async def chat_room(session):
    one = await ws(f"/ws/chat/{session.pk}/", user=session.user1)
    two = await ws(f"/ws/chat/{session.pk}/", user=session.user2)
    await one.recv_type("user_joined")
    return one, two


async def test_a_message_reaches_every_socket_of_its_session_and_no_other():
    session, elsewhere = await sync_to_async(ActiveSessionFactory.create_batch)(2)
    one, two = await chat_room(session)
    second_tab = await ws(f"/ws/chat/{session.pk}/", user=session.user2)
    other_one, other_two = await chat_room(elsewhere)

    await one.send({"type": "chat_message", "message": "hello"})
    for sock in (one, two, second_tab):  # the sender's own socket too: it was stored
        assert (await sock.recv_type("chat_message"))["message"] == "hello"
    assert await other_one.silent()
    assert await other_two.silent()

    # A closed tab drops out; the others keep getting everything.
    await second_tab.close()
    await two.send({"type": "chat_message", "message": "still here"})
    assert (await one.recv_type("chat_message"))["message"] == "still here"
    assert (await two.recv_type("chat_message"))["message"] == "still here"
    for sock in (one, two, other_one, other_two):
        await sock.close()


async def test_a_message_posted_over_rest_reaches_the_sockets():
    session = await sync_to_async(ActiveSessionFactory)()
    one, two = await chat_room(session)
    stored = await sync_to_async(message_post)(session_id=session.pk, sender=session.user2, text="from REST")
    for sock in (one, two):
        frame = await sock.recv_type("chat_message")
        assert (frame["id"], frame["message"]) == (stored.pk, "from REST")
        assert frame["sender_id"] == session.user2_id
    await one.close()
    await two.close()


async def test_a_slow_socket_is_told_what_it_missed_and_holds_back_nobody(settings, monkeypatch):
    settings.CHAT_SOCKET_QUEUE = 3  # frames waiting per socket
    session = await sync_to_async(ActiveSessionFactory)()
    gate = asyncio.Event()
    original = ChatConsumer._send_text

    async def stalled_for_user2(self, text):
        # As a client that stops reading: user2's frames can't leave the server for now.
        if self.user.pk == session.user2_id:
            await gate.wait()
        await original(self, text)

    monkeypatch.setattr(ChatConsumer, "_send_text", stalled_for_user2)
    one, two = await chat_room(session)
    sent = [f"message {k}" for k in range(12)]
    for text in sent:
        await one.send({"type": "chat_message", "message": text})
        # The fast socket gets each message while the slow one is stuck.
        assert (await one.recv_type("chat_message"))["message"] == text

    gate.set()
    await one.send({"type": "chat_message", "message": "after the stall"})
    received = []
    while not received or received[-1].get("message") != "after the stall":
        received.append(await two.recv())
    got = [frame for frame in received if frame["type"] == "chat_message"]
    errors = [frame for frame in received if frame["type"] == "error"]
    # Not every message was held for the stalled socket: its outbox is bounded ...
    assert len(got) < len(sent) + 1
    # ... and before the first message after the gap it is told where to resume from.
    [missed] = errors
    assert missed["code"] == 503
    gap_at = received.index(missed)
    last_before_gap = [f for f in received[:gap_at] if f["type"] == "chat_message"][-1]
    assert missed["missed_after"] == last_before_gap["id"]
    assert f"messages/?after={last_before_gap['id']}" in missed["message"]
    # What it did get is in order and ends with the newest message.
    ids = [frame["id"] for frame in got]
    assert ids == sorted(ids)
    assert got[-1]["message"] == "after the stall"
    await one.close()
    await two.close()


@pytest.mark.redis
@pytest.mark.skipif(not remote_enabled(), reason="needs the Redis channel layer (REDIS_URL)")
async def test_a_message_stored_by_another_process_reaches_the_sockets_here():
    session = await sync_to_async(ActiveSessionFactory)()
    one, two = await chat_room(session)
    await one.send({"type": "chat_message", "message": "local"})
    local = await two.recv_type("chat_message")
    assert (await one.recv_type("chat_message"))["id"] == local["id"]
    # What another server process's fan-out publishes after its batch committed.
    new_id = local["id"] + 1
    frame = {"type": "chat_message", "id": new_id, "sender": "x", "sender_id": session.user2_id}
    frame.update(message="remote", timestamp="2026-01-01T00:00:00Z")
    batch = [[session.pk, local["id"], new_id, [json.dumps(frame)]]]
    client = redis.asyncio.Redis.from_url(django_settings.REDIS_URL)
    try:
        await client.publish(redis_channel(), msgpack.packb(["another-process", batch]))
        # Its own batches come back from Redis too, and are not delivered twice.
        await client.publish(redis_channel(), msgpack.packb([chat_fanout.origin, batch]))
    finally:
        await client.aclose()
    for sock in (one, two):
        remote = await sock.recv_type("chat_message")
        assert (remote["id"], remote["message"]) == (new_id, "remote")
    assert await two.silent()
    await one.close()
    await two.close()


async def test_batches_of_two_processes_that_cross_arrive_in_order_without_a_false_alarm():
    session = await sync_to_async(ActiveSessionFactory)()
    one, two = await chat_room(session)
    await one.send({"type": "chat_message", "message": "first"})
    first = await two.recv_type("chat_message")

    def broadcast(offset, text):
        message = {k: v for k, v in first.items() if k != "type"}
        message.update(id=first["id"] + offset, message=text)
        event = {"messages": [message], "previous_id": first["id"] + offset - 1}
        return Broadcast(session.pk, event)

    # The later batch comes first, as when another process's earlier commit is still on its way
    # through Redis; the earlier one follows a moment later.
    chat_fanout.publish([broadcast(2, "third")])
    await asyncio.sleep(0.01)
    chat_fanout.publish([broadcast(1, "second")])
    assert [(await two.recv())["message"] for _ in range(2)] == ["second", "third"]
    assert await two.silent()  # and no missed_after
    await one.close()
    await two.close()
