"""How many frames a socket, and a user across all their sockets, may send per window."""

from collections import deque

from django.conf import settings

from common import counters


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
    """A fixed window per user, shared by all their sockets on every process (common.counters:
    Redis when configured, else this process): WS_USER_RATE_LIMIT frames per WS_RATE_WINDOW s.
    Refused frames count."""
    window = settings.WS_RATE_WINDOW
    key = f"ws-rate:{user_id}:{int(now // window)}"
    count = await counters.atake(key, window)
    return count <= settings.WS_USER_RATE_LIMIT
