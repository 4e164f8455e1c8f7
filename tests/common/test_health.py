import asyncio
import time

import pytest
from django.db import OperationalError

from bench.server import free_port
from common import views

URL = "/api/health/"


def test_healthy(api_client, db):
    response = api_client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok", "cache": "ok", "status": "ok"}


def test_needs_no_token_and_ignores_a_bad_one(api_client, db):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    assert api_client.get(URL).status_code == 200


def test_database_down_is_503(api_client, db, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:  # undone before the test database is torn down
        patch.setattr(views.connection, "cursor", broken_cursor)
        response = api_client.get(URL)
    assert response.status_code == 503
    assert response.json() == {
        "database": "error",
        "channel_layer": "ok",
        "cache": "ok",
        "status": "degraded",
    }


def test_unreachable_redis_is_503(api_client, db, settings):
    # Nothing listens on port 1: the real channels_redis backend must fail, not hang.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    started = time.monotonic()
    response = api_client.get(URL)
    assert response.status_code == 503
    assert response.json() == {
        "database": "ok",
        "channel_layer": "error",
        "cache": "ok",
        "status": "degraded",
    }
    assert time.monotonic() - started < views.CHANNEL_LAYER_TIMEOUT + 2


class _HangingLayer:
    async def new_channel(self):
        return "health.hang"

    async def send(self, channel, message):
        pass

    async def receive(self, channel):
        await asyncio.sleep(3600)


def test_an_unreachable_cache_is_reported_on_its_own(api_client, db, monkeypatch):
    monkeypatch.setattr("common.counters._redis_url", lambda: f"redis://127.0.0.1:{free_port()}/0")
    response = api_client.get(URL)
    assert response.status_code == 503
    assert response.json() == {
        "database": "ok",
        "channel_layer": "ok",
        "cache": "error",
        "status": "degraded",
    }


def test_a_hanging_channel_layer_is_503_within_the_timeout(api_client, db, monkeypatch):
    monkeypatch.setattr(views, "get_channel_layer", lambda: _HangingLayer())
    monkeypatch.setattr(views, "CHANNEL_LAYER_TIMEOUT", 0.2)
    started = time.monotonic()
    response = api_client.get(URL)
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "error"
    assert time.monotonic() - started < 2


def test_no_channel_layer_configured_is_503(api_client, db, monkeypatch):
    monkeypatch.setattr(views, "get_channel_layer", lambda: None)
    assert api_client.get(URL).status_code == 503


@pytest.mark.redis
def test_real_redis_round_trip(api_client, db):
    assert api_client.get(URL).json() == {
        "database": "ok",
        "channel_layer": "ok",
        "cache": "ok",
        "status": "ok",
    }
