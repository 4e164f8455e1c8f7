"""Django's Redis cache with one connection pool per process instead of one per request.

Django keeps a cache object per asgiref context (`caches` is not thread-critical), and each
request served by common.asgi_http runs in a context of its own, so every request got a new
RedisCache, a new connection pool and a new TCP connection to Redis (connect, `getaddrinfo`,
close): a py-spy profile of the posts page on `make serve` put ~17% of the request there
(docs/bench.md, "REST hot paths"). redis-py's pool is thread-safe and resets itself in a forked
child, so one client per server list and options serves every thread of a process.
"""

import threading

from django.core.cache.backends.redis import RedisCache

_clients: dict = {}
_lock = threading.Lock()


class ProcessRedisCache(RedisCache):
    @property
    def _cache(self):
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client
