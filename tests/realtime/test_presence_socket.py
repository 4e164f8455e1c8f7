from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from presence.models import Connection, ServerProcess
from presence.services import connections_expire
from realtime.background import sweep_once
from tests.factories import UserFactory

from .conftest import ws

pytestmark = pytest.mark.django_db(transaction=True)


def public(user):
    return {"id": user.id, "name": user.name, "availability": user.availability}


async def test_online_users_on_connect_lists_who_is_online():
    alice, bob = await sync_to_async(UserFactory.create_batch)(2)
    a = await ws("/ws/presence/", user=alice)
    assert (await a.recv())["users"] == [public(alice)]
    b = await ws("/ws/presence/", user=bob)
    frame = await b.recv()
    assert frame["type"] == "online_users"
    assert sorted(u["id"] for u in frame["users"]) == sorted([alice.id, bob.id])
    assert all(set(u) == {"id", "name", "availability"} for u in frame["users"])
    await a.close()
    await b.close()


async def test_online_on_first_tab_only_and_offline_on_last_tab_only():
    watcher_user, alice = await sync_to_async(UserFactory.create_batch)(2)
    watcher = await ws("/ws/presence/", user=watcher_user)
    await watcher.recv_type("online_users")

    tab1 = await ws("/ws/presence/", user=alice)
    assert await watcher.recv() == {"type": "presence_update", "user": public(alice), "status": "online"}
    tab2 = await ws("/ws/presence/", user=alice)
    assert await watcher.silent()

    await tab1.close()
    assert await watcher.silent()
    await tab2.close()
    assert await watcher.recv() == {"type": "presence_update", "user": public(alice), "status": "offline"}
    await watcher.close()


async def test_a_chat_or_session_socket_also_counts_as_online():
    from tests.factories import ActiveSessionFactory

    session = await sync_to_async(ActiveSessionFactory)()
    watcher = await ws("/ws/presence/", user=await sync_to_async(UserFactory)())
    await watcher.recv_type("online_users")
    chat = await ws(f"/ws/chat/{session.pk}/", user=session.user1)
    update = await watcher.recv_type("presence_update")
    assert (update["user"]["id"], update["status"]) == (session.user1_id, "online")
    await chat.close()
    await watcher.close()


async def test_users_do_not_get_their_own_presence_updates():
    alice = await sync_to_async(UserFactory)()
    # The socket joins the presence group before its own "online" is published, so only the
    # consumer's self-filter keeps that event from reaching it.
    tab = await ws("/ws/presence/", user=alice)
    assert (await tab.recv())["type"] == "online_users"
    assert await tab.silent()
    await tab.close()


async def test_heartbeat_is_acknowledged_with_the_clients_timestamp_and_refreshes():
    alice = await sync_to_async(UserFactory)()
    sock = await ws("/ws/presence/", user=alice)
    await sock.recv_type("online_users")
    before = await sync_to_async(Connection.objects.get)(user=alice)
    with time_machine.travel(timezone.now() + timedelta(seconds=30), tick=True):
        await sock.send({"type": "heartbeat", "timestamp": 1712345678901})
        assert await sock.recv() == {"type": "heartbeat_ack", "timestamp": 1712345678901}
    after = await sync_to_async(Connection.objects.get)(user=alice)
    assert after.last_seen_at > before.last_seen_at
    await sock.close()


async def test_a_burst_of_heartbeats_is_acknowledged_without_rewriting_the_connection():
    alice = await sync_to_async(UserFactory)()
    sock = await ws("/ws/presence/", user=alice)
    await sock.recv_type("online_users")
    before = await sync_to_async(Connection.objects.get)(user=alice)
    for stamp in range(5):
        await sock.send({"type": "heartbeat", "timestamp": stamp})
        assert await sock.recv() == {"type": "heartbeat_ack", "timestamp": stamp}
    after = await sync_to_async(Connection.objects.get)(user=alice)
    assert after.last_seen_at == before.last_seen_at
    await sock.close()


async def test_connections_of_a_crashed_process_go_offline_once_its_beat_is_overdue():
    watcher_user, alice = await sync_to_async(UserFactory.create_batch)(2)
    watcher = await ws("/ws/presence/", user=watcher_user)
    await watcher.recv_type("online_users")
    # Connections of a process that died: nobody will ever close or refresh them.
    now = timezone.now()
    last_beat = now - settings.PRESENCE_PROCESS_TIMEOUT - timedelta(seconds=1)
    await sync_to_async(ServerProcess.objects.create)(id="crashed", started_at=last_beat, beat_at=last_beat)
    for kind in ("presence", "chat"):
        await sync_to_async(Connection.objects.create)(
            id=f"crashed!{kind}", user=alice, kind=kind, process="crashed", opened_at=now, last_seen_at=now
        )
    result = await sync_to_async(sweep_once)()
    assert result["users_offline"] == 1
    assert await watcher.recv() == {"type": "presence_update", "user": public(alice), "status": "offline"}
    assert (await sync_to_async(connections_expire)()).users_offline == []
    assert await watcher.silent()
    await watcher.close()


async def test_online_users_on_connect_is_capped(monkeypatch):
    monkeypatch.setattr("realtime.consumers.presence.ONLINE_USERS_ON_CONNECT", 2)
    users = await sync_to_async(UserFactory.create_batch)(3)
    socks = [await ws("/ws/presence/", user=u) for u in users]
    assert len((await socks[-1].recv_type("online_users"))["users"]) == 2
    for s in socks:
        await s.close()
