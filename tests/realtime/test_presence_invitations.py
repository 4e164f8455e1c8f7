"""ws/presence/ tells the invitee about a new session and the creator about its answer (SPEC
section 7), whether the answer came over REST or by joining the session room."""

import pytest
from asgiref.sync import sync_to_async

from tests.conftest import authed_client
from tests.factories import SessionFactory, UserFactory

from .conftest import ws

pytestmark = pytest.mark.django_db(transaction=True)


async def presence(user):
    sock = await ws("/ws/presence/", user=user)
    await sock.recv_type("online_users")
    return sock


async def rest(user, method: str, path: str, body=None):
    return await sync_to_async(lambda: getattr(authed_client(user), method)(path, body, format="json"))()


async def next_personal(sock) -> dict:
    """The next frame that is not somebody's presence_update."""
    while (frame := await sock.recv())["type"] == "presence_update":
        pass
    return frame


@pytest.fixture
async def people():
    return await sync_to_async(UserFactory.create_batch)(3)


async def test_every_tab_of_the_invitee_gets_the_invitation_and_nobody_else(people):
    alice, bob, carol = people
    bob_tabs = [await presence(bob), await presence(bob)]
    alice_tab, carol_tab = await presence(alice), await presence(carol)

    response = await rest(alice, "post", "/api/sessions/", {"user2": bob.pk})
    assert response.status_code == 201

    for tab in bob_tabs:
        assert await next_personal(tab) == {"type": "session_invitation", "session": response.json()}
    for tab in (alice_tab, carol_tab):
        await tab.send({"type": "heartbeat", "timestamp": "t"})
        assert await next_personal(tab) == {"type": "heartbeat_ack", "timestamp": "t"}
    for tab in (*bob_tabs, alice_tab, carol_tab):
        await tab.close()


async def test_a_refused_invitation_sends_nothing(people):
    alice, bob, _ = people
    await sync_to_async(SessionFactory)(user1=alice, user2=bob)
    bob_tab = await presence(bob)
    response = await rest(alice, "post", "/api/sessions/", {"user2": bob.pk})
    assert response.status_code == 409
    await bob_tab.send({"type": "heartbeat", "timestamp": "t"})
    assert (await next_personal(bob_tab))["type"] == "heartbeat_ack"
    await bob_tab.close()


@pytest.mark.parametrize(("decision", "status"), [("accept", "active"), ("reject", "rejected")])
async def test_answering_over_rest_reaches_the_creators_presence_socket(people, decision, status):
    alice, bob, _ = people
    session = await sync_to_async(SessionFactory)(user1=alice, user2=bob)
    alice_tab, bob_tab = await presence(alice), await presence(bob)

    response = await rest(bob, "post", f"/api/sessions/{session.pk}/respond/", {"decision": decision})
    assert response.status_code == 200

    answer = await next_personal(alice_tab)
    assert answer == {"type": "session_response", "session": response.json()}
    assert answer["session"]["status"] == status
    assert (answer["session"]["accepted_at"] is None) == (decision == "reject")
    await bob_tab.send({"type": "heartbeat", "timestamp": "t"})
    assert (await next_personal(bob_tab))["type"] == "heartbeat_ack"  # the invitee knows already
    await alice_tab.close()
    await bob_tab.close()


async def test_joining_the_session_room_accepts_and_tells_the_creator(people):
    alice, bob, _ = people
    created = await rest(alice, "post", "/api/sessions/", {"user2": bob.pk})
    session_id = created.json()["id"]
    alice_tab = await presence(alice)

    room = await ws(f"/ws/session/{session_id}/", user=bob)
    state = await room.recv_type("session_state")
    assert state["session"]["status"] == "active"

    answer = await next_personal(alice_tab)
    assert answer == {"type": "session_response", "session": state["session"]}
    assert answer["session"]["is_active"] is True and answer["session"]["accepted_at"] is not None
    assert answer["session"]["start_time"] == created.json()["start_time"]
    await room.close()
    await alice_tab.close()


async def test_the_creator_withdrawing_over_the_socket_tells_the_invitee(people):
    alice, bob, _ = people
    session = await sync_to_async(SessionFactory)(user1=alice, user2=bob)
    alice_room = await ws(f"/ws/session/{session.pk}/", user=alice)  # the creator's room: stays pending
    await alice_room.recv_type("session_state")
    bob_tab = await presence(bob)
    alice_tab = await presence(alice)

    await alice_room.send({"type": "end_session"})  # the creator withdraws the invitation
    assert (await alice_room.recv_type("session_ended"))["ended_by"] == alice.pk

    withdrawn = await next_personal(bob_tab)
    assert withdrawn["type"] == "session_response"
    assert (withdrawn["session"]["id"], withdrawn["session"]["status"]) == (session.pk, "rejected")
    assert withdrawn["session"]["is_active"] is False
    await alice_tab.send({"type": "heartbeat", "timestamp": "t"})
    assert (await next_personal(alice_tab))["type"] == "heartbeat_ack"
    for sock in (alice_room, bob_tab, alice_tab):
        await sock.close()
