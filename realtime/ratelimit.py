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
    On Redis each process leases a share of the window's budget, so a frame costs no round trip
    (common.counters.atake_within): never more than the limit in all, and a process may refuse
    a frame while another still holds a few unused frames of the window's budget."""
    window = settings.WS_RATE_WINDOW
    key = f"ws-rate:{user_id}:{int(now // window)}"
    return await counters.atake_within(key, window, settings.WS_USER_RATE_LIMIT)
