import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection

from chat.models import ChatMessage
from chat.services import Broadcast
from chat.writer import chat_writer
from realtime.fanout import chat_fanout
from tests.factories import ActiveSessionFactory, SessionFactory
from tutoring.models import Session

from .conftest import ws

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def room():
    session = await sync_to_async(ActiveSessionFactory)()
    one = await ws(f"/ws/chat/{session.pk}/", user=session.user1)
    two = await ws(f"/ws/chat/{session.pk}/", user=session.user2)
    joined = await one.recv()
    assert joined == {"type": "user_joined", "user": session.user2.name, "user_id": session.user2_id}
    yield session, one, two
    await one.close()
    await two.close()


async def test_message_is_stored_then_sent_to_both_participants(room):
    session, one, two = room
    await one.send({"type": "chat_message", "message": "hello there"})
    frames = [await one.recv_type("chat_message"), await two.recv_type("chat_message")]
    stored = await sync_to_async(ChatMessage.objects.get)()
    for frame in frames:
        assert frame["id"] == stored.id
        assert frame["sender"] == session.user1.name
        assert frame["sender_id"] == session.user1_id
        assert frame["message"] == "hello there"
        assert frame["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    "message",
    ["", "   ", "x" * 2001, None, 7],
    ids=["empty", "blank", "too-long", "null", "not-string"],
)
async def test_bad_message_gets_an_error_and_nothing_is_stored(room, message):
    _, one, two = room
    await one.send({"type": "chat_message", "message": message})
    frame = await one.recv()
    assert frame["type"] == "error"
    assert frame["code"] == 400
    assert await two.silent(), await two.recv()
    assert not await sync_to_async(ChatMessage.objects.exists)()


async def test_typing_reaches_only_the_other_participant(room):
    session, one, two = room
    await one.send({"type": "typing", "is_typing": True})
    assert await two.recv() == {
        "type": "typing",
        "user": session.user1.name,
        "user_id": session.user1_id,
        "is_typing": True,
    }
    assert await one.silent()


@pytest.mark.parametrize(
    "frame",
    [{"type": "typing", "is_typing": "yes"}, {"type": "typing"}, {"type": "typing", "is_typing": None}],
    ids=["string", "missing", "null"],
)
async def test_typing_needs_a_boolean(room, frame):
    _, one, two = room
    await one.send(frame)
    assert (await one.recv())["type"] == "error"
    assert await two.silent()


async def test_leaving_is_announced_to_the_other(room):
    session, one, two = room
    await two.close()
    assert await one.recv() == {"type": "user_left", "user": session.user2.name, "user_id": session.user2_id}


async def test_chat_of_a_finished_session_refuses_new_messages(room):
    session, one, _ = room
    await sync_to_async(Session.objects.filter(pk=session.pk).update)(status=Session.Status.COMPLETED)
    await one.send({"type": "chat_message", "message": "still there?"})
    frame = await one.recv()
    assert (frame["type"], frame["code"]) == ("error", 409)


async def test_pending_session_chat_works_for_the_invitee():
    session = await sync_to_async(SessionFactory)()
    sock = await ws(f"/ws/chat/{session.pk}/", user=session.user2)
    await sock.send({"type": "chat_message", "message": "hi"})
    assert (await sock.recv_type("chat_message"))["message"] == "hi"
    await sock.close()


# --- the chat writer behind the socket --------------------------------------------------------


@pytest.fixture
def held_writer(monkeypatch):
    """The chat writer stops before storing each batch until `go` is set (then runs freely)."""
    import chat.writer

    reached, go = threading.Event(), threading.Event()
    original = chat.writer.messages_store

    def held(**kwargs):
        reached.set()
        go.wait(30)
        return original(**kwargs)

    monkeypatch.setattr(chat.writer, "messages_store", held)
    yield reached, go
    go.set()


def stored_texts(session):
    return list(ChatMessage.objects.filter(session=session).order_by("id").values_list("text", flat=True))


async def test_a_burst_arrives_in_order_and_is_stored_in_order(room, settings):
    settings.WS_RATE_LIMIT = settings.WS_USER_RATE_LIMIT = 1000
    session, one, two = room
    # Fewer than MAX_IN_FLIGHT, so a slow writer (a loaded machine) can't turn some into 429s.
    texts = [f"message {n}" for n in range(40)]
    for text in texts:
        await one.send({"type": "chat_message", "message": text})
    received = [await two.recv_type("chat_message") for _ in texts]
    assert [frame["message"] for frame in received] == texts
    assert [frame["id"] for frame in received] == sorted(frame["id"] for frame in received)
    assert await sync_to_async(stored_texts)(session) == texts


async def test_a_message_is_committed_when_its_frame_arrives(room):
    _, one, two = room

    def committed(message_id):
        # Another thread, another connection: it sees only what was committed. On the test
        # database of SQLite (one in-memory database in shared-cache mode) a read while the writer
        # stores a later batch fails at once with "table is locked" instead of waiting as a file
        # database does; it is tried again then. On PostgreSQL (the services pass) reads never
        # wait for writers, so there the check is exact.
        for _ in range(200):
            try:
                return ChatMessage.objects.filter(pk=message_id).exists()
            except OperationalError as exc:
                if connection.vendor != "sqlite" or "locked" not in str(exc):
                    raise
            time.sleep(0.005)
        raise AssertionError("the chat table stayed locked for a second")

    for n in range(10):
        await one.send({"type": "chat_message", "message": f"m{n}"})
    for _ in range(10):
        frame = await two.recv_type("chat_message")
        assert await sync_to_async(committed, thread_sensitive=False)(frame["id"])


async def test_a_full_queue_refuses_with_503_and_takes_the_rest_once_it_drains(room, held_writer, settings):
    session, one, two = room
    reached, go = held_writer
    settings.CHAT_WRITE_QUEUE = 1
    await sync_to_async(chat_writer.stop, thread_sensitive=False)()  # restart with the small queue
    await one.send({"type": "chat_message", "message": "taken by the writer"})
    await sync_to_async(reached.wait, thread_sensitive=False)(5)
    await one.send({"type": "chat_message", "message": "waits in the queue"})
    await one.send({"type": "chat_message", "message": "no room"})
    error = await one.recv_type("error")
    assert error["code"] == 503
    assert "not sent" in error["message"]
    go.set()
    assert [(await two.recv_type("chat_message"))["message"] for _ in range(2)] == [
        "taken by the writer",
        "waits in the queue",
    ]
    assert await sync_to_async(stored_texts)(session) == ["taken by the writer", "waits in the queue"]


async def test_too_many_messages_in_flight_on_one_socket_get_429(room, held_writer, monkeypatch):
    import realtime.consumers.chat

    session, one, two = room
    monkeypatch.setattr(realtime.consumers.chat, "MAX_IN_FLIGHT", 2)
    for n in range(3):
        await one.send({"type": "chat_message", "message": f"m{n}"})
    error = await one.recv_type("error")
    assert error["code"] == 429
    held_writer[1].set()
    assert [(await two.recv_type("chat_message"))["message"] for _ in range(2)] == ["m0", "m1"]
    assert await two.silent()
    assert await sync_to_async(stored_texts)(session) == ["m0", "m1"]


async def test_a_message_in_flight_when_its_socket_closes_is_still_stored(room, held_writer):
    session, one, two = room
    reached, go = held_writer
    await one.send({"type": "chat_message", "message": "sent just before leaving"})
    await sync_to_async(reached.wait, thread_sensitive=False)(5)
    await one.close()
    go.set()
    assert (await two.recv_type("chat_message"))["message"] == "sent just before leaving"
    assert await sync_to_async(stored_texts)(session) == ["sent just before leaving"]


async def test_a_message_refused_after_the_session_ended_meanwhile_is_reported(room, held_writer):
    session, one, _ = room
    reached, go = held_writer
    await one.send({"type": "chat_message", "message": "in flight"})
    await sync_to_async(reached.wait, thread_sensitive=False)(5)
    await sync_to_async(Session.objects.filter(pk=session.pk).update)(status=Session.Status.COMPLETED)
    go.set()
    error = await one.recv_type("error")
    assert error["code"] == 409
    assert await sync_to_async(stored_texts)(session) == []


async def test_the_writer_survives_a_database_error_and_tells_the_sender(room, monkeypatch):
    from django.db import OperationalError

    import chat.writer

    session, one, two = room
    original = chat.writer.messages_store
    failures = iter([OperationalError("database went away"), OperationalError("still away")])

    def flaky(**kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return original(**kwargs)

    monkeypatch.setattr(chat.writer, "messages_store", flaky)
    await one.send({"type": "chat_message", "message": "lost to the outage"})
    error = await one.recv_type("error")
    assert error["code"] == 503
    assert await two.silent()
    await one.send({"type": "chat_message", "message": "after the outage"})
    assert (await two.recv_type("chat_message"))["message"] == "after the outage"
    assert await sync_to_async(stored_texts)(session) == ["after the outage"]


async def test_a_socket_that_missed_messages_is_told_where_to_resume(room):
    session, one, two = room
    await one.send({"type": "chat_message", "message": "first"})
    first = await two.recv_type("chat_message")
    # As if the socket's outbox had overflowed (or Redis dropped a batch): the next batch follows
    # a message this socket never got.
    message = {k: v for k, v in first.items() if k != "type"}
    message.update(id=first["id"] + 5, message="much later")
    chat_fanout.publish([Broadcast(session.pk, {"messages": [message], "previous_id": first["id"] + 4})])
    error = await two.recv()
    assert (error["type"], error["code"], error["missed_after"]) == ("error", 503, first["id"])
    assert f"messages/?after={first['id']}" in error["message"]
    assert (await two.recv())["message"] == "much later"


async def test_the_writer_outlives_a_failure_of_its_own(room, monkeypatch):
    from chat.writer import ChatWriter

    session, one, two = room
    original = ChatWriter._write
    calls = []

    def broken_once(self, items):
        calls.append(len(items))
        if len(calls) == 1:
            raise RuntimeError("a bug while settling")
        return original(self, items)

    monkeypatch.setattr(ChatWriter, "_write", broken_once)
    await one.send({"type": "chat_message", "message": "hit by the bug"})
    assert (await one.recv_type("error"))["code"] == 503
    await one.send({"type": "chat_message", "message": "fine again"})
    assert (await two.recv_type("chat_message"))["message"] == "fine again"
