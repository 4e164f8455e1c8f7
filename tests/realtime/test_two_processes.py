"""Two real daphne processes sharing one PostgreSQL database and one Redis: presence, chat and
session events must cross from one process to the other, as behind a load balancer."""

import json
import os
import secrets
import subprocess

import environ
import pytest
from django.conf import settings

from tests.servers import BIN, ROOT, close_code, expect, open_socket, rest, start_servers

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def _admin_connection(url: str):
    import psycopg

    cfg = environ.Env.db_url_config(url)
    return psycopg.connect(
        host=cfg["HOST"] or "127.0.0.1",
        port=cfg["PORT"] or 5432,
        user=cfg["USER"] or "postgres",
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def e2e_database():
    """A real (non-test) database, created and migrated for this test, dropped afterwards."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    name = f"ll_e2e_{secrets.token_hex(4)}"
    url = base.rsplit("/", 1)[0] + "/" + name
    with _admin_connection(base) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL}
        subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield url
    finally:
        with _admin_connection(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def two_servers(e2e_database, tmp_path):
    servers = start_servers(2, {"DATABASE_URL": e2e_database, "REDIS_URL": settings.REDIS_URL}, tmp_path)
    try:
        yield [server.port for server in servers]
    finally:
        for server in servers:
            server.stop()


def _signup(port: int, n: int) -> tuple[int, str]:
    tag = secrets.token_hex(3)
    status, body = rest(
        port,
        "POST",
        "/api/auth/signup/",
        {
            "email": f"e2e{n}-{tag}@example.com",
            "name": f"E2E {n} {tag}",
            "password": "a-long-enough-passphrase-42",
            "password_confirm": "a-long-enough-passphrase-42",
        },
    )
    assert status == 201, body
    return body["user"]["id"], body["tokens"]["access"]


async def test_events_cross_between_two_server_processes(two_servers):
    port_a, port_b = two_servers
    user1_id, token1 = _signup(port_a, 1)
    user2_id, token2 = _signup(port_a, 2)
    sockets = []
    try:
        # Presence: user1 watches on A; user2's first connection, on B, is announced on A.
        watch1 = await open_socket(port_a, "/ws/presence/", token1)
        sockets.append(watch1)
        assert [u["id"] for u in (await expect(watch1, "online_users"))["users"]] == [user1_id]
        presence2 = await open_socket(port_b, "/ws/presence/", token2)
        sockets.append(presence2)
        online = await expect(watch1, "presence_update", status="online")
        assert online["user"]["id"] == user2_id
        assert set(online["user"]) == {"id", "name", "availability"}

        # Invitation: created over REST on A, it reaches user2's presence socket on B.
        status, session = rest(port_a, "POST", "/api/sessions/", {"user2": user2_id}, token=token1)
        assert status == 201, session
        sid = session["id"]
        assert (await expect(presence2, "session_invitation"))["session"] == session

        # Chat: stored once, delivered on both processes.
        chat1 = await open_socket(port_a, f"/ws/chat/{sid}/", token1)
        chat2 = await open_socket(port_b, f"/ws/chat/{sid}/", token2)
        sockets += [chat1, chat2]
        await expect(chat1, "user_joined", user_id=user2_id)
        await chat1.send(json.dumps({"type": "chat_message", "message": "hello from A"}))
        received = await expect(chat2, "chat_message")
        assert (received["sender_id"], received["message"]) == (user1_id, "hello from A")
        assert (await expect(chat1, "chat_message"))["id"] == received["id"]
        await chat2.send(json.dumps({"type": "typing", "is_typing": True}))
        assert (await expect(chat1, "typing"))["user_id"] == user2_id

        # Session: user2 joins on B (accepting), user1 starts a timer on A, stops it over REST on B.
        session1 = await open_socket(port_a, f"/ws/session/{sid}/", token1)
        sockets.append(session1)
        assert (await expect(session1, "session_state"))["session"]["status"] == "pending"
        session2 = await open_socket(port_b, f"/ws/session/{sid}/", token2)
        sockets.append(session2)
        assert (await expect(session2, "session_state"))["session"]["status"] == "active"
        assert (await expect(session1, "session_state"))["session"]["status"] == "active"
        # Joining on B accepted the invitation: user1's presence socket on A hears the answer.
        answer = await expect(watch1, "session_response")
        assert (answer["session"]["id"], answer["session"]["status"]) == (sid, "active")
        await session1.send(json.dumps({"type": "timer_start"}))
        assert (await expect(session2, "timer_started"))["teacher_id"] == user1_id
        status, _ = rest(port_b, "POST", f"/api/sessions/{sid}/timer/stop/", {}, token=token1)
        assert status == 200
        assert (await expect(session1, "timer_stopped"))["teacher_id"] == user1_id
        assert (await expect(session2, "timer_stopped"))["teacher_id"] == user1_id
        await session2.send(json.dumps({"type": "end_session"}))
        ended = await expect(session1, "session_ended")
        assert ended["ended_by"] == user2_id
        status, credits = rest(port_a, "GET", "/api/credits/", token=token1)
        assert status == 200, credits
        assert ended["your_credits"] == credits["credits"]

        # user2 leaves B entirely: their last connection closing is announced on A.
        for sock in (presence2, chat2, session2):
            await sock.close()
        offline = await expect(watch1, "presence_update", status="offline")
        assert offline["user"]["id"] == user2_id
    finally:
        for sock in sockets:
            await sock.close()


async def test_deleting_an_account_closes_its_sockets_on_every_process(two_servers):
    port_a, port_b = two_servers
    leaving_id, leaving_token = _signup(port_a, 1)
    _, watcher_token = _signup(port_a, 2)
    sockets = []
    try:
        watcher = await open_socket(port_a, "/ws/presence/", watcher_token)
        sockets.append(watcher)
        await expect(watcher, "online_users")
        on_a = await open_socket(port_a, "/ws/presence/", leaving_token)
        on_b = await open_socket(port_b, "/ws/presence/", leaving_token)
        sockets += [on_a, on_b]
        await expect(watcher, "presence_update", status="online")
        status, body = rest(
            port_a,
            "DELETE",
            "/api/users/me/",
            {"password": "a-long-enough-passphrase-42"},
            token=leaving_token,
        )
        assert status == 204, body
        # Well before the 30 s background refresh: the account_closed event reached both.
        for sock in (on_a, on_b):
            assert await close_code(sock) == 4001
        offline = await expect(watcher, "presence_update", status="offline")
        assert offline["user"]["id"] == leaving_id
        assert offline["user"]["name"] == f"Deleted user {leaving_id}"
    finally:
        for sock in sockets:
            await sock.close()
