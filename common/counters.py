"""Fixed-window counters, the one store behind every rate limit (login and signup throttles, the
per-user WebSocket frame budget).

`take(key, seconds)` adds one to the counter at `key` and returns the new count, atomically; the
counter lives `seconds` seconds. Callers put the window's number in the key, so a new window is
a new key and no reset is ever needed.

* When the cache (`CACHE_URL`) is Redis, counters are shared by every server process: one
  `SET NX EX` + `INCR` in a MULTI, so no two processes can read the same count.
* Otherwise they live in this process, in a dict under a lock: atomic across threads and
  coroutines, and never evicted while their window lasts (Django's local-memory cache holds 300
  entries and dropped live budgets, and its async increment is a read followed by a write).
* While Redis is unreachable, counting falls back to this process's store (each process then
  limits on its own: sign-ins keep working instead of failing closed) and Redis is tried again
  every RETRY_SECONDS; the first answer switches back by itself. Both transitions are logged.

`atake_within(key, seconds, limit)` is the form for budgets checked on every WebSocket frame: the
same window, but on Redis each process leases a share of the budget (`INCRBY`), then admits
frames from its lease without a round trip. A round trip per frame cost as much CPU as the rest of
a chat frame's handling (docs/realtime.md, "Chat on make serve: CPU per frame"). All processes
together never admit more than `limit` per window (a lease is granted only up to the limit, in
Redis, atomically); a lease shrinks as the window's budget runs out (at most a quarter of what is
left, at least one), so what one process holds unused while another is refused stays small.
"""

import asyncio
import logging
import threading
import time
import weakref

import redis
import redis.asyncio
from django.conf import settings

from .outages import UNREACHABLE

logger = logging.getLogger(__name__)

# How long counting stays local after Redis failed, before it is tried again. Short, so the
# shared limits come back quickly; long enough that an outage doesn't add a failed connection
# attempt to every request.
RETRY_SECONDS = 2.0
# Redis is on the local network: an answer takes milliseconds, and a hung one must not hold a
# login or a frame for long before the local store takes over.
REDIS_TIMEOUT_SECONDS = 1.0

# The largest share of a budget one process leases at once.
MAX_LEASE = 64

# Decrement only a counter that still exists: a window that ended meanwhile stays gone instead of
# coming back as -1 with no expiry.
_GIVE_BACK = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"


class LocalCounters:
    """This process's counters. Every operation holds the lock for a few dict operations only."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, list] = {}  # key -> [count, expires_at]
        self._next_prune = 0.0

    def take(self, key: str, seconds: float) -> int:
        now = self._clock()
        with self._lock:
            self._prune(now)
            entry = self._counts.get(key)
            if entry is None or entry[1] <= now:
                entry = self._counts[key] = [0, now + seconds]
            entry[0] += 1
            return entry[0]

    def give_back(self, key: str) -> None:
        with self._lock:
            entry = self._counts.get(key)
            if entry is not None and entry[0] > 0:
                entry[0] -= 1

    def forget(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()

    def __len__(self) -> int:
        return len(self._counts)

    def _prune(self, now: float) -> None:
        # Ended windows go at most once a second, so memory follows the live windows only.
        if now < self._next_prune:
            return
        self._next_prune = now + 1.0
        for key in [k for k, (_, expires_at) in self._counts.items() if expires_at <= now]:
            del self._counts[key]


class SharedCounters:
    """Counters in Redis, with this process's LocalCounters standing in while Redis is down."""

    def __init__(self, url: str, local: LocalCounters, clock=time.monotonic):
        self.url = url
        self.local = local
        self._clock = clock
        options = {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
        self._options = options
        self._client = redis.Redis.from_url(url, **options)
        self._give_back_script = self._client.register_script(_GIVE_BACK)
        # redis.asyncio clients belong to the event loop they were made on.
        self._async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._down_until: float | None = None
        self._state_lock = threading.Lock()
        # key -> [frames leased and not yet admitted, the key's total in Redis, expires_at]
        self._leases: dict[str, list] = {}
        self._next_prune = 0.0

    # --- reachability ---------------------------------------------------------------------

    def _use_local(self) -> bool:
        down_until = self._down_until
        return down_until is not None and self._clock() < down_until

    def _failed(self, exc: Exception) -> None:
        with self._state_lock:
            was_up = self._down_until is None
            self._down_until = self._clock() + RETRY_SECONDS
        if was_up:
            logger.warning(
                "counter store %s unreachable (%s); rate limits are per process until it answers again",
                _redacted(self.url),
                exc,
            )

    def _answered(self) -> None:
        if self._down_until is None:
            return
        with self._state_lock:
            was_down, self._down_until = self._down_until is not None, None
        if was_down:
            logger.warning("counter store %s reachable again; limits are shared again", _redacted(self.url))

    def ping(self) -> bool:
        """Whether Redis answers right now (health), regardless of the retry schedule."""
        try:
            ok = bool(self._client.ping())
        except UNREACHABLE:
            return False
        self._answered()
        return ok

    # --- counting -------------------------------------------------------------------------

    def take(self, key: str, seconds: float) -> int:
        if self._use_local():
            return self.local.take(key, seconds)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=_whole(seconds), nx=True)
                pipe.incr(key)
                _, count = pipe.execute()
        except UNREACHABLE as exc:
            self._failed(exc)
            return self.local.take(key, seconds)
        self._answered()
        return int(count)

    async def atake(self, key: str, seconds: float) -> int:
        if self._use_local():
            return self.local.take(key, seconds)
        try:
            async with self._async_client().pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=_whole(seconds), nx=True)
                pipe.incr(key)
                _, count = await pipe.execute()
        except UNREACHABLE as exc:
            self._failed(exc)
            return self.local.take(key, seconds)
        self._answered()
        return int(count)

    async def atake_within(self, key: str, seconds: float, limit: int) -> bool:
        if self._use_local():
            return self.local.take(key, seconds) <= limit
        now = self._clock()
        with self._state_lock:
            self._prune_leases(now)
            lease = self._leases.get(key)
            if lease is not None and lease[2] > now and lease[0] > 0:
                lease[0] -= 1
                return True
            known_total = lease[1] if lease is not None and lease[2] > now else 0
        if known_total >= limit:
            return False  # the window's budget is spent on every process; it only grows
        want = max(1, min(MAX_LEASE, (limit - known_total) // 4))
        try:
            async with self._async_client().pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=_whole(seconds), nx=True)
                pipe.incrby(key, want)
                _, total = await pipe.execute()
        except UNREACHABLE as exc:
            self._failed(exc)
            return self.local.take(key, seconds) <= limit
        self._answered()
        total = int(total)
        granted = max(0, min(want, limit - (total - want)))
        with self._state_lock:
            lease = self._leases.get(key)
            if lease is None or lease[2] <= now:
                lease = self._leases[key] = [0, 0, now + seconds]
            lease[1] = max(lease[1], total)
            if granted == 0:
                return False
            lease[0] += granted - 1  # this frame takes one
        return True

    def _prune_leases(self, now: float) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + 1.0
        for key in [k for k, (_, _, expires_at) in self._leases.items() if expires_at <= now]:
            del self._leases[key]

    def give_back(self, key: str) -> None:
        self.local.give_back(key)
        if self._use_local():
            return
        try:
            self._give_back_script(keys=[key])
        except UNREACHABLE as exc:
            self._failed(exc)

    def forget(self, key: str) -> None:
        self.local.forget(key)
        if self._use_local():
            return
        try:
            self._client.delete(key)
        except UNREACHABLE as exc:
            self._failed(exc)

    def _async_client(self):
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._async_clients[loop] = redis.asyncio.Redis.from_url(self.url, **self._options)
        return client


def _whole(seconds: float) -> int:
    return max(1, int(seconds + 0.999))


def _redacted(url: str) -> str:
    # Never log a password that may sit in the URL.
    return url.rsplit("@", 1)[-1]


def _redis_url() -> str | None:
    """The cache's Redis URL when the cache is Redis (CACHE_URL, which defaults to REDIS_URL)."""
    cache = settings.CACHES.get("default", {})
    if "redis" not in cache.get("BACKEND", "").lower():
        return None
    location = cache.get("LOCATION")
    if isinstance(location, list | tuple):
        location = location[0] if location else None
    return location or None


_local = LocalCounters()
_shared: dict[str, SharedCounters] = {}
_shared_lock = threading.Lock()


def store() -> LocalCounters | SharedCounters:
    """The store the current settings name (settings may change in tests)."""
    url = _redis_url()
    if url is None:
        return _local
    shared = _shared.get(url)
    if shared is None:
        with _shared_lock:
            shared = _shared.setdefault(url, SharedCounters(url, _local))
    return shared


def take(key: str, seconds: float) -> int:
    return store().take(key, seconds)


async def atake(key: str, seconds: float) -> int:
    counters = store()
    if isinstance(counters, LocalCounters):
        return counters.take(key, seconds)
    return await counters.atake(key, seconds)


async def atake_within(key: str, seconds: float, limit: int) -> bool:
    """Whether one more use of the budget at `key` (`limit` per window of `seconds`) is allowed.
    On Redis, per-process leases of the budget (module docstring)."""
    counters = store()
    if isinstance(counters, LocalCounters):
        return counters.take(key, seconds) <= limit
    return await counters.atake_within(key, seconds, limit)


def give_back(key: str) -> None:
    """Best effort: the window may have ended meanwhile."""
    store().give_back(key)


def forget(key: str) -> None:
    store().forget(key)


def shared_store_ok() -> bool | None:
    """True/False whether the shared store answers; None when counters are per process by config."""
    counters = store()
    if isinstance(counters, LocalCounters):
        return None
    return counters.ping()


def clear() -> None:
    """Tests: forget every count in this process (the Redis database is flushed with the cache)."""
    _local.clear()
    for shared in list(_shared.values()):
        shared._down_until = None
        with shared._state_lock:
            shared._leases.clear()
