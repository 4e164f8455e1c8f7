"""Two real daphne processes sharing one PostgreSQL database and one Redis: presence, chat and
session events must cross from one process to the other, as behind a load balancer."""

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import environ
import pytest
from django.conf import settings

from bench.server import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WAIT = 15  # seconds any single expected event may take


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


def _wait_until_serving(port: int, proc, log: Path):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"daphne on {port} exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=2)  # noqa: S310
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"daphne on {port} did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture
def two_servers(e2e_database, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": e2e_database,
        "REDIS_URL": settings.REDIS_URL,
        "USE_IN_MEMORY_CHANNEL_LAYER": "False",
        "DEBUG": "True",
    }
    procs = []
    try:
        ports = []
        for label in ("a", "b"):
            port = free_port()
            log = tmp_path / f"daphne-{label}.log"
            proc = subprocess.Popen(  # noqa: S603
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "linklearn.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            procs.append(proc)
            _wait_until_serving(port, proc, log)
            ports.append(port)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _rest(port: int, method: str, path: str, body=None, token=None):
    request = urllib.request.Request(  # noqa: S310
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, json.loads(response.read() or b"null")


def _signup(port: int, n: int) -> tuple[int, str]:
    tag = secrets.token_hex(3)
    status, body = _rest(
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


async def _open(port: int, path: str, token: str):
    from websockets.asyncio.client import connect

    return await asyncio.wait_for(
        connect(f"ws://127.0.0.1:{port}{path}?token={token}", origin=f"http://127.0.0.1:{port}"), WAIT
    )


async def _expect(sock, frame_type: str, **match) -> dict:
    """The next frame of `frame_type` whose fields include `match`, within WAIT seconds."""

    async def scan():
        while True:
            frame = json.loads(await sock.recv())
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in match.items()):
                return frame

    return await asyncio.wait_for(scan(), WAIT)


async def test_events_cross_between_two_server_processes(two_servers):
    port_a, port_b = two_servers
    user1_id, token1 = _signup(port_a, 1)
    user2_id, token2 = _signup(port_a, 2)
    sockets = []
    try:
        # Presence: user1 watches on A; user2's first connection, on B, is announced on A.
        watch1 = await _open(port_a, "/ws/presence/", token1)
        sockets.append(watch1)
        assert [u["id"] for u in (await _expect(watch1, "online_users"))["users"]] == [user1_id]
        presence2 = await _open(port_b, "/ws/presence/", token2)
        sockets.append(presence2)
        online = await _expect(watch1, "presence_update", status="online")
        assert online["user"]["id"] == user2_id
        assert set(online["user"]) == {"id", "name", "availability"}

        # Invitation: created over REST on A, it reaches user2's presence socket on B.
        status, session = _rest(port_a, "POST", "/api/sessions/", {"user2": user2_id}, token=token1)
        assert status == 201, session
        sid = session["id"]
        assert (await _expect(presence2, "session_invitation"))["session"] == session

        # Chat: stored once, delivered on both processes.
        chat1 = await _open(port_a, f"/ws/chat/{sid}/", token1)
        chat2 = await _open(port_b, f"/ws/chat/{sid}/", token2)
        sockets += [chat1, chat2]
        await _expect(chat1, "user_joined", user_id=user2_id)
        await chat1.send(json.dumps({"type": "chat_message", "message": "hello from A"}))
        received = await _expect(chat2, "chat_message")
        assert (received["sender_id"], received["message"]) == (user1_id, "hello from A")
        assert (await _expect(chat1, "chat_message"))["id"] == received["id"]
        await chat2.send(json.dumps({"type": "typing", "is_typing": True}))
        assert (await _expect(chat1, "typing"))["user_id"] == user2_id

        # Session: user2 joins on B (accepting), user1 starts a timer on A, stops it over REST on B.
        session1 = await _open(port_a, f"/ws/session/{sid}/", token1)
        sockets.append(session1)
        assert (await _expect(session1, "session_state"))["session"]["status"] == "pending"
        session2 = await _open(port_b, f"/ws/session/{sid}/", token2)
        sockets.append(session2)
        assert (await _expect(session2, "session_state"))["session"]["status"] == "active"
        assert (await _expect(session1, "session_state"))["session"]["status"] == "active"
        # Joining on B accepted the invitation: user1's presence socket on A hears the answer.
        answer = await _expect(watch1, "session_response")
        assert (answer["session"]["id"], answer["session"]["status"]) == (sid, "active")
        await session1.send(json.dumps({"type": "timer_start"}))
        assert (await _expect(session2, "timer_started"))["teacher_id"] == user1_id
        status, _ = _rest(port_b, "POST", f"/api/sessions/{sid}/timer/stop/", {}, token=token1)
        assert status == 200
        assert (await _expect(session1, "timer_stopped"))["teacher_id"] == user1_id
        assert (await _expect(session2, "timer_stopped"))["teacher_id"] == user1_id
        await session2.send(json.dumps({"type": "end_session"}))
        ended = await _expect(session1, "session_ended")
        assert ended["ended_by"] == user2_id
        assert ended["your_credits"] == _rest(port_a, "GET", "/api/credits/", token=token1)[1]["credits"]

        # user2 leaves B entirely: their last connection closing is announced on A.
        for sock in (presence2, chat2, session2):
            await sock.close()
        offline = await _expect(watch1, "presence_update", status="offline")
        assert offline["user"]["id"] == user2_id
    finally:
        for sock in sockets:
            await sock.close()


async def test_deleting_an_account_closes_its_sockets_on_every_process(two_servers):
    from websockets.exceptions import ConnectionClosed

    port_a, port_b = two_servers
    leaving_id, leaving_token = _signup(port_a, 1)
    _, watcher_token = _signup(port_a, 2)
    sockets = []
    try:
        watcher = await _open(port_a, "/ws/presence/", watcher_token)
        sockets.append(watcher)
        await _expect(watcher, "online_users")
        on_a = await _open(port_a, "/ws/presence/", leaving_token)
        on_b = await _open(port_b, "/ws/presence/", leaving_token)
        sockets += [on_a, on_b]
        await _expect(watcher, "presence_update", status="online")
        request = urllib.request.Request(  # noqa: S310
            f"http://127.0.0.1:{port_a}/api/users/me/",
            data=json.dumps({"password": "a-long-enough-passphrase-42"}).encode(),
            method="DELETE",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {leaving_token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 204
        # Well before the 30 s background refresh: the account_closed event reached both.
        for sock in (on_a, on_b):
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(_expect(sock, "never"), WAIT)
            assert closed.value.rcvd.code == 4001
        offline = await _expect(watcher, "presence_update", status="offline")
        assert offline["user"]["id"] == leaving_id
        assert offline["user"]["name"] == f"Deleted user {leaving_id}"
    finally:
        for sock in sockets:
            await sock.close()
