"""The per-user frame budget holds across server processes: on Redis, a user's sockets on two
processes draw from one budget."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory
from tests.servers import open_socket, shared_test_database_url, start_servers

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
]


async def test_sockets_of_one_user_on_two_processes_share_one_frame_budget(tmp_path):
    user = await sync_to_async(UserFactory)()
    env = {
        "DATABASE_URL": shared_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "WS_USER_RATE_LIMIT": "10",
        "WS_RATE_LIMIT": "1000",
        # One window for the whole test: the count can't restart halfway through.
        "WS_RATE_WINDOW": "3600",
    }
    servers = await asyncio.to_thread(start_servers, 2, env, tmp_path)
    token = str(AccessToken.for_user(user))
    sockets = []
    try:
        for server in servers:
            sock = await open_socket(server.port, "/ws/presence/", token)
            sockets.append(sock)
            assert json.loads(await sock.recv())["type"] == "online_users"

        async def burst(sock):
            for i in range(10):
                await sock.send(json.dumps({"type": "heartbeat", "timestamp": i}))
            answers = []
            while len(answers) < 10:
                frame = json.loads(await asyncio.wait_for(sock.recv(), 10))
                if frame["type"] in ("heartbeat_ack", "error"):
                    answers.append(frame["type"])
            return answers

        answers = [a for per_socket in await asyncio.gather(*(burst(s) for s in sockets)) for a in per_socket]
        assert answers.count("heartbeat_ack") == 10
        assert answers.count("error") == 10
    finally:
        for sock in sockets:
            await sock.close()
        for server in servers:
            await asyncio.to_thread(server.stop)
