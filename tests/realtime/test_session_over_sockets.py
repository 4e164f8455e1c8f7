"""A web client can run a whole session over the sockets alone: presence, chat, timers, ending
and credits. Creating the session is the one REST call, because no socket frame creates one."""

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.utils import timezone

from presence.models import Connection
from tests.conftest import authed_client
from tests.factories import UserFactory

from .conftest import ws

pytestmark = pytest.mark.django_db(transaction=True)

CHAT_FIELDS = {"type", "id", "sender", "sender_id", "message", "timestamp"}
TIMER_STARTED_FIELDS = {"type", "teacher_id", "teacher_name", "start_time", "timer_id"}
TIMER_STOPPED_FIELDS = {
    "type",
    "teacher_id",
    "teacher_name",
    "end_time",
    "duration_seconds",
    "timer_id",
    "new_total_time",
}


async def let_minutes_pass(traveller, minutes: int, sockets) -> None:
    """The clock is frozen, so the server's own 30-second refresher never fires: the clients stand
    in for it with a heartbeat a minute, keeping both users online and the teacher present (a
    teacher absent past the grace period would have their timer cut short)."""
    for _ in range(minutes):
        traveller.shift(60)
        for sock in sockets:
            await sock.send({"type": "heartbeat", "timestamp": "tick"})
            assert await sock.recv() == {"type": "heartbeat_ack", "timestamp": "tick"}


async def teach(traveller, *, teacher, learner, teacher_user, minutes: int, sockets) -> None:
    await teacher.send({"type": "timer_start"})
    for sock in (teacher, learner):
        started = await sock.recv()
        assert set(started) >= TIMER_STARTED_FIELDS
        assert (started["type"], started["teacher_id"], started["teacher_name"]) == (
            "timer_started",
            teacher_user.pk,
            teacher_user.name,
        )
    await let_minutes_pass(traveller, minutes, sockets)
    await teacher.send({"type": "timer_stop"})
    for sock in (teacher, learner):
        stopped = await sock.recv()
        assert set(stopped) >= TIMER_STOPPED_FIELDS
        assert (stopped["type"], stopped["teacher_id"], stopped["duration_seconds"]) == (
            "timer_stopped",
            teacher_user.pk,
            minutes * 60,
        )


async def silent(sock) -> bool:
    """`silent` waits on the event loop's clock, which time_machine freezes along with the wall
    clock; let it tick for that wait only."""
    with time_machine.travel(timezone.now(), tick=True):
        return await sock.silent()


async def two_frames(sock) -> dict:
    """The next two frames by type: the SPEC does not order session_ended and credit_update."""
    frames = [await sock.recv(), await sock.recv()]
    return {frame["type"]: frame for frame in frames}


async def test_two_users_run_a_whole_session_over_the_sockets():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        alice, bob = await sync_to_async(UserFactory.create_batch)(2)

        # Both come online and see each other.
        alice_presence = await ws("/ws/presence/", user=alice)
        assert [u["id"] for u in (await alice_presence.recv())["users"]] == [alice.pk]
        bob_presence = await ws("/ws/presence/", user=bob)
        assert {u["id"] for u in (await bob_presence.recv_type("online_users"))["users"]} == {
            alice.pk,
            bob.pk,
        }
        update = await alice_presence.recv()
        assert (update["type"], update["user"]["id"], update["status"]) == (
            "presence_update",
            bob.pk,
            "online",
        )

        # Alice invites Bob: the one REST call.
        response = await sync_to_async(
            lambda: authed_client(alice).post("/api/sessions/", {"user2": bob.pk}, format="json")
        )()
        assert response.status_code == 201, response.content
        session_id = response.json()["id"]
        # Bob's presence socket is told at once, with the same representation REST answered.
        invitation = await bob_presence.recv()
        assert invitation == {"type": "session_invitation", "session": response.json()}
        assert invitation["session"]["is_active"] is True and invitation["session"]["status"] == "pending"

        # Alice enters the room; Bob joining accepts the invitation, and Alice hears it.
        alice_session = await ws(f"/ws/session/{session_id}/", user=alice)
        assert (await alice_session.recv())["session"]["status"] == "pending"
        alice_chat = await ws(f"/ws/chat/{session_id}/", user=alice)
        bob_session = await ws(f"/ws/session/{session_id}/", user=bob)
        state = await bob_session.recv()
        assert (state["type"], state["session"]["status"]) == ("session_state", "active")
        state = await alice_session.recv()
        assert (state["type"], state["session"]["status"]) == ("session_state", "active")
        # ...and wherever she is on the site, her presence socket hears the answer.
        answer = await alice_presence.recv()
        assert answer == {"type": "session_response", "session": state["session"]}
        assert await silent(bob_presence)
        bob_chat = await ws(f"/ws/chat/{session_id}/", user=bob)
        joined = await alice_chat.recv()
        assert (joined["type"], joined["user_id"]) == ("user_joined", bob.pk)

        # They chat both ways; every message reaches both, sender included.
        for sender, text in ((alice, "Hi Bob, ready for Rust?"), (bob, "Yes! Then Spanish?")):
            await (alice_chat if sender is alice else bob_chat).send(
                {"type": "chat_message", "message": text}
            )
            for sock in (alice_chat, bob_chat):
                message = await sock.recv()
                assert set(message) == CHAT_FIELDS
                assert (message["type"], message["sender_id"], message["sender"], message["message"]) == (
                    "chat_message",
                    sender.pk,
                    sender.name,
                    text,
                )

        # Typing reaches only the other participant.
        await bob_chat.send({"type": "typing", "is_typing": True})
        typing = await alice_chat.recv()
        assert (typing["type"], typing["user"], typing["is_typing"]) == ("typing", bob.name, True)
        assert await silent(bob_chat)

        everyone = [alice_presence, alice_session, alice_chat, bob_presence, bob_session, bob_chat]
        await teach(
            traveller,
            teacher=alice_session,
            learner=bob_session,
            teacher_user=alice,
            minutes=10,
            sockets=everyone,
        )
        await teach(
            traveller,
            teacher=bob_session,
            learner=alice_session,
            teacher_user=bob,
            minutes=5,
            sockets=everyone,
        )

        # Nothing is settled before the end.
        await bob_session.send({"type": "get_credits"})
        assert await bob_session.recv() == {"type": "credit_balance", "credits": "15.00"}

        # Alice taught 600 s (2.00 owed by Bob, 0.20 cut), Bob 300 s (1.00 owed by Alice, 0.10 cut).
        await alice_session.send({"type": "end_session"})
        summary = {
            "user1": {
                "id": alice.pk,
                "name": alice.name,
                "teaching_seconds": 600,
                "credits_earned": "1.80",
                "credits_spent": "1.00",
                "shortfall": "0.00",
            },
            "user2": {
                "id": bob.pk,
                "name": bob.name,
                "teaching_seconds": 300,
                "credits_earned": "0.90",
                "credits_spent": "2.00",
                "shortfall": "0.00",
            },
            "bank_cut": "0.30",
        }
        for sock, user, balance in ((alice_session, alice, "15.80"), (bob_session, bob, "13.90")):
            frames = await two_frames(sock)
            assert frames == {
                "session_ended": {
                    "type": "session_ended",
                    "ended_by": alice.pk,
                    "credit_summary": summary,
                    "your_credits": balance,
                },
                "credit_update": {"type": "credit_update", "user_id": user.pk, "new_balance": balance},
            }

        # Leaving the room keeps Bob online (his presence socket is open); leaving it offline.
        await bob_chat.close()
        left = await alice_chat.recv()
        assert (left["type"], left["user_id"]) == ("user_left", bob.pk)
        await bob_session.close()
        assert await silent(alice_presence)
        await bob_presence.close()
        update = await alice_presence.recv()
        assert (update["type"], update["user"]["id"], update["status"]) == (
            "presence_update",
            bob.pk,
            "offline",
        )

        for sock in (alice_chat, alice_session, alice_presence):
            await sock.close()
        assert await sync_to_async(Connection.objects.count)() == 0
