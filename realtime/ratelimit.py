"""How many frames a socket, and a user across all their sockets, may send per window."""

import logging
from collections import deque

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


class ConnectionRate:
    """A sliding window per connection: at most WS_RATE_LIMIT frames per WS_RATE_WINDOW s."""

    def __init__(self):
        self._recent_frames: deque[float] = deque()

    def allow(self, now: float) -> bool:
        while self._recent_frames and now - self._recent_frames[0] >= settings.WS_RATE_WINDOW:
            self._recent_frames.popleft()
        if len(self._recent_frames) >= settings.WS_RATE_LIMIT:
            return False
        self._recent_frames.append(now)
        return True


async def user_within_rate(*, user_id: int, now: float) -> bool:
    """A fixed window per user, shared by all their sockets on every process through the cache
    (Redis in production): WS_USER_RATE_LIMIT frames per WS_RATE_WINDOW s. Refused frames count."""
    window = settings.WS_RATE_WINDOW
    key = f"ws-rate:{user_id}:{int(now // window)}"
    try:
        # add is a no-op when the key exists; its timeout outlives the window, so incr finds it.
        await cache.aadd(key, 0, timeout=window * 2)
        count = await cache.aincr(key)
    except Exception:  # an unreachable cache must not take the sockets down with it
        logger.warning("per-user frame budget unavailable for user %s", user_id, exc_info=True)
        return True
    return count <= settings.WS_USER_RATE_LIMIT
