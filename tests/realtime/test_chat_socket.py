import pytest
from asgiref.sync import sync_to_async

from chat.models import ChatMessage
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
