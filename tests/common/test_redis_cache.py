"""The Redis cache keeps one connection pool per process: a request in a context of its own (as
every request is under common.asgi_http) must not open a new connection to Redis."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.cache import cache, caches

pytestmark = pytest.mark.redis


def _client_in_a_new_context():
    # What each request does: a new context sees a cache object of its own.
    return caches.create_connection("default")._cache


def test_every_context_shares_one_client():
    if settings.CACHES["default"]["BACKEND"] != "common.redis_cache.ProcessRedisCache":
        pytest.skip("the cache is not Redis here")

    async def two_requests():
        return await sync_to_async(_client_in_a_new_context)(), await sync_to_async(
            _client_in_a_new_context, thread_sensitive=False
        )()

    first, second = async_to_sync(two_requests)()
    assert first is second is cache._cache
    cache.set("shared-pool-check", 1)
    assert caches.create_connection("default").get("shared-pool-check") == 1


def test_every_operation_shares_one_redis_client():
    if settings.CACHES["default"]["BACKEND"] != "common.redis_cache.ProcessRedisCache":
        pytest.skip("the cache is not Redis here")
    client = cache._cache
    assert client.get_client("a") is client.get_client("b", write=True)
    # Still the cache it was: values, counters, expiry and deletion behave as Django's.
    cache.set("shared-client-check", {"n": 1}, 30)
    assert cache.get("shared-client-check") == {"n": 1}
    cache.set("shared-client-counter", 1)
    assert cache.incr("shared-client-counter", 2) == 3
    assert cache.add("shared-client-counter", 9) is False
    cache.delete("shared-client-check")
    assert cache.get("shared-client-check", "gone") == "gone"
