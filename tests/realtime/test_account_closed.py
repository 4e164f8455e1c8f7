"""Deleting an account closes every socket of the user at once (through their user group, which
reaches every server process), not only at the next background refresh."""

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts.services import account_delete
from presence.models import Connection
from presence.services import UserGone, connection_open
from tests.factories import ActiveSessionFactory, UserFactory

from .conftest import still_usable, ws

pytestmark = pytest.mark.django_db(transaction=True)


async def closed_with(sock, timeout: float = 5):
    """The close code, skipping frames (e.g. others coming online) sent before it."""
    while True:
        message = await sock.comm.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return message.get("code")


async def test_deleting_an_account_closes_all_its_sockets_with_4001_at_once():
    session = await sync_to_async(ActiveSessionFactory)()
    leaving, staying = session.user1, session.user2
    presence = await ws("/ws/presence/", user=leaving)
    await presence.recv_type("online_users")
    room = await ws(f"/ws/session/{session.pk}/", user=leaving)
    await room.recv_type("session_state")
    chat = await ws(f"/ws/chat/{session.pk}/", user=leaving)
    other = await ws(f"/ws/session/{session.pk}/", user=staying)
    await other.recv_type("session_state")

    await sync_to_async(account_delete)(user=leaving)

    # The refresher runs every 30 s by default: closing within 5 s is the account_closed event.
    for sock in (presence, room, chat):
        assert await closed_with(sock) == 4001
    assert (await other.recv_type("session_ended"))["ended_by"] == leaving.pk
    assert await still_usable(other)
    assert not await sync_to_async(Connection.objects.filter(user_id=leaving.pk).exists)()
    await other.close()


async def test_other_users_sockets_stay_open():
    leaving, staying = await sync_to_async(UserFactory)(), await sync_to_async(UserFactory)()
    watcher = await ws("/ws/presence/", user=staying)
    await watcher.recv_type("online_users")
    await sync_to_async(account_delete)(user=leaving)
    assert await watcher.silent(timeout=0.5)
    assert await still_usable(watcher)
    await watcher.close()


def test_a_connection_of_a_deleted_user_is_refused_when_it_registers(db):
    user = UserFactory()
    account_delete(user=user)
    with pytest.raises(UserGone):
        connection_open(connection_id="late", user=user, kind="presence", now=timezone.now())
    assert not Connection.objects.filter(pk="late").exists()
