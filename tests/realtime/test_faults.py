"""Faults under running servers (SPEC sections 7 and 8): Redis dies and comes back, a server
process is killed with SIGKILL in the middle of settlements. Real daphne processes share the test
database; nothing here stops the shared Redis (the outage test runs its own redis-server)."""

import asyncio
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from ledger.models import Transfer
from tests.factories import ActiveSessionFactory, UserFactory
from tests.redis_server import redis_server  # noqa: F401 (fixture)
from tests.servers import close_code, expect, open_socket, rest, shared_test_database_url, start_servers
from tutoring.models import Session

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
]

PASSWORD = "a-long-enough-passphrase-42"


def token(user) -> str:
    return str(AccessToken.for_user(user))


def signup(port: int) -> tuple[int, dict]:
    tag = secrets.token_hex(4)
    return rest(
        port,
        "POST",
        "/api/auth/signup/",
        {
            "email": f"f{tag}@example.com",
            "name": f"F {tag}",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )


async def until(check, timeout: float, every: float = 0.3):
    """Poll `check` (sync, run in a thread) until it returns a truthy value or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(every)


async def test_a_redis_outage_degrades_and_recovers_without_a_restart(redis_server, tmp_path):  # noqa: F811
    (server,) = await asyncio.to_thread(
        start_servers,
        1,
        {"DATABASE_URL": shared_test_database_url(), "REDIS_URL": redis_server.url},
        tmp_path,
    )
    port = server.port
    try:
        status, body = await asyncio.to_thread(signup, port)
        assert status == 201, body
        access = body["tokens"]["access"]
        email = body["user"]["email"]
        before = await open_socket(port, "/ws/presence/", access)
        await expect(before, "online_users")

        redis_server.kill()

        # Sign-in keeps working (per-process limits), REST keeps serving.
        status, body = await asyncio.to_thread(signup, port)
        assert status == 201, body
        status, body = await asyncio.to_thread(
            rest, port, "POST", "/api/auth/login/", {"email": email, "password": PASSWORD}
        )
        assert status == 200, body
        status, me = await asyncio.to_thread(rest, port, "GET", "/api/users/me/", None, access)
        assert (status, me["email"]) == (200, email)
        # Health says what is down.
        status, health = await asyncio.to_thread(rest, port, "GET", "/api/health/")
        assert (status, health) == (
            503,
            {"database": "ok", "channel_layer": "error", "cache": "error", "status": "degraded"},
        )
        # New sockets are refused with "try again later", which a client tells from an auth error;
        # the open one is told the same instead of being dropped without a close frame.
        refused = await open_socket(port, "/ws/presence/", access)
        assert await close_code(refused) == 1013
        assert await close_code(before) == 1013

        redis_server.start()  # same port, empty

        async def socket_works():
            sock = await open_socket(port, "/ws/presence/", access)
            try:
                await expect(sock, "online_users", timeout=5)
                return True
            except Exception:
                return False
            finally:
                await sock.close()

        deadline = time.monotonic() + 20
        while not await socket_works():
            assert time.monotonic() < deadline, "sockets did not recover:\n" + server.log_tail()
            await asyncio.sleep(0.5)
        status, health = await asyncio.to_thread(rest, port, "GET", "/api/health/")
        assert (status, health["status"]) == (200, "ok")
        assert "rate limits are per process" in server.log_tail(100_000)
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_server_killed_during_settlements_leaves_a_clean_ledger_and_its_users_go_offline(tmp_path):
    sessions = await sync_to_async(ActiveSessionFactory.create_batch)(24)
    for session in sessions:  # both taught, so ending moves credits both ways and to the bank
        session.user1_teaching_seconds, session.user2_teaching_seconds = 600, 300
        await sync_to_async(session.save)()
    watcher, victim, both = await sync_to_async(UserFactory.create_batch)(3)
    survivor, doomed = await asyncio.to_thread(
        start_servers,
        2,
        {"DATABASE_URL": shared_test_database_url(), "REDIS_URL": settings.REDIS_URL},
        tmp_path,
    )
    sockets = []
    try:
        watch = await open_socket(survivor.port, "/ws/presence/", token(watcher))
        sockets.append(watch)
        await expect(watch, "online_users")
        # The victim's tabs are all on the doomed process; `both` has one tab on each.
        for user, port in (
            (victim, doomed.port),
            (victim, doomed.port),
            (both, doomed.port),
            (both, survivor.port),
        ):
            sockets.append(await open_socket(port, "/ws/presence/", token(user)))
        online = {(await expect(watch, "presence_update", status="online"))["user"]["id"] for _ in range(2)}
        assert online == {victim.pk, both.pk}

        # Settlements in flight on the doomed process when it dies.
        first_answer = threading.Event()

        def end(session):
            try:
                result = rest(
                    doomed.port, "POST", f"/api/sessions/{session.pk}/end/", {}, token(session.user1)
                )
            except OSError:
                return None  # the process died under this request
            first_answer.set()
            return result

        with ThreadPoolExecutor(max_workers=8) as pool:
            ends = [pool.submit(end, s) for s in sessions]
            await asyncio.to_thread(first_answer.wait, 20)
            doomed.kill()
            killed_at = time.monotonic()
            answers = [f.result() for f in ends]
        assert any(a is not None and a[0] == 200 for a in answers)
        assert any(a is None for a in answers)  # some were cut off by the kill

        # The survivor notices within 15 s; the user with a live tab on it stays online.
        offline = await expect(
            watch, "presence_update", timeout=15 - (time.monotonic() - killed_at), status="offline"
        )
        assert offline["user"]["id"] == victim.pk
        noticed_after = time.monotonic() - killed_at
        assert noticed_after < 15, f"offline announced {noticed_after:.1f}s after the kill"
        try:
            extra = await expect(watch, "presence_update", timeout=1)
        except TimeoutError:
            extra = None
        assert extra is None, f"only the victim goes offline, once: {extra}"
        status, online_now = await asyncio.to_thread(
            rest, survivor.port, "GET", "/api/presence/online/", None, token(watcher)
        )
        assert status == 200
        assert {u["id"] for u in online_now["results"]} == {watcher.pk, both.pk}

        # Every session settled exactly once or not at all; retries on the survivor finish the job.
        for session in sessions:
            status, _ = await asyncio.to_thread(
                rest, survivor.port, "POST", f"/api/sessions/{session.pk}/end/", {}, token(session.user1)
            )
            assert status in (200, 409)
        assert await sync_to_async(Session.objects.filter(status=Session.Status.COMPLETED).count)() == len(
            sessions
        )
        per_session = await sync_to_async(
            lambda: {s.pk: Transfer.objects.filter(session_id=s.pk).count() for s in sessions}
        )()
        assert len(set(per_session.values())) == 1 and min(per_session.values()) > 0, per_session
        await sync_to_async(call_command)("ledger_check")  # raises on any mismatch
    finally:
        for sock in sockets:
            await sock.close()
        for server in (survivor, doomed):
            await asyncio.to_thread(server.stop)
