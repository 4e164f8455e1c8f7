"""Django's Redis cache with one connection pool, and one client on it, per process instead of one
per request (and one per call).

Django keeps a cache object per asgiref context (`caches` is not thread-critical), and each
request served by common.asgi_http runs in a context of its own, so every request got a new
RedisCache, a new connection pool and a new TCP connection to Redis (connect, `getaddrinfo`,
close): a py-spy profile of the posts page on `make serve` put ~17% of the request there
(docs/bench.md, "REST hot paths"). redis-py's pool is thread-safe and resets itself in a forked
child, so one client per server list and options serves every thread of a process.

Django's client also builds a new `redis.Redis` around the pool for every operation, ~45 µs of
the ~80 µs a `cache.get` cost (docs/bench.md, "PostgreSQL and Redis CPU per request"). A
`redis.Redis` takes a connection from its pool for each command, so one per pool is shared by
every thread too.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict = {}
_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    """Django's cache client with one `redis.Redis` per connection pool, kept."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._redis_by_pool: dict = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._redis_by_pool.get(pool)
        if client is None:
            client = self._redis_by_pool.setdefault(pool, self._client(connection_pool=pool))
        return client


class ProcessRedisCache(RedisCache):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._class = SharedRedisCacheClient  # Django's __init__ sets its own

    @property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client
