"""Rate limits for the endpoints anyone can call without a token.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] and are read on every request (not
frozen at import like DRF's own throttles), so a changed setting applies at once. Counters live in
the Django cache, which is Redis when configured, so every server process shares them.
"""

import hashlib
import re
import time
from dataclasses import dataclass

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$", re.IGNORECASE)


def parse_rate(rate: str | None) -> tuple[int | None, int | None]:
    """ "5/15min" -> (5, 900). Also "20/hour", "3/s". DRF's own parser rejects multiples."""
    if rate is None:
        return None, None
    match = _RATE.match(rate)
    if match is None:
        raise ValueError(f"Bad throttle rate {rate!r}; use e.g. '5/15min' or '20/hour'.")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _UNITS[unit[0].lower()]


def rate_for(scope: str) -> str | None:
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


class LiveScopedThrottle(SimpleRateThrottle):
    """A per-IP throttle for `scope` whose rate is looked up at request time."""

    def __init__(self):  # SimpleRateThrottle reads the rate here; we read it per request instead.
        pass

    def allow_request(self, request, view):
        self.rate = rate_for(self.scope)
        self.num_requests, self.duration = parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignupThrottle(LiveScopedThrottle):
    scope = "signup"


class TokenRefreshThrottle(LiveScopedThrottle):
    scope = "token_refresh"


@dataclass(frozen=True)
class _Window:
    prefix: str
    limit: int
    seconds: int

    def key(self, now: float) -> str:
        # Windows are aligned to the clock, so the key itself says which window a failure is in
        # and no separate expiry bookkeeping is needed.
        return f"{self.prefix}:{int(now // self.seconds)}"

    def ends_in(self, now: float) -> float:
        return self.seconds - (now % self.seconds)


class LoginFailureCounter:
    """Counts failed logins per account (email) and per client IP in fixed windows.

    Only failures are counted, so people who type their password right are never slowed down.
    Once either counter reaches its limit, every login attempt for that account or from that IP
    is refused, including a correct one, until the window ends: otherwise an attacker would learn
    the password from the one attempt that is not refused.
    """

    def __init__(self, request, email: str):
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        self.account = self._window("login_failures_account", f"account:{digest}")
        self.ip = self._window("login_failures_ip", f"ip:{BaseThrottle().get_ident(request)}")
        self.windows = [w for w in (self.account, self.ip) if w is not None]

    @staticmethod
    def _window(scope: str, ident: str) -> _Window | None:
        limit, seconds = parse_rate(rate_for(scope))
        if limit is None:
            return None
        return _Window(prefix=f"throttle:login-failures:{ident}", limit=limit, seconds=seconds)

    def wait(self) -> float | None:
        """Seconds until attempts are allowed again, or None if they are allowed now."""
        now = time.time()
        waits = [w.ends_in(now) for w in self.windows if (cache.get(w.key(now)) or 0) >= w.limit]
        return max(waits) if waits else None

    def record_failure(self) -> None:
        now = time.time()
        for window in self.windows:
            key = window.key(now)
            # add() only creates a missing key; incr() is atomic in Redis and in the local-memory
            # cache, so concurrent failures from several processes all count.
            cache.add(key, 0, timeout=window.seconds)
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.set(key, 1, timeout=window.seconds)

    def clear_account(self) -> None:
        """A correct password resets the account's count. The IP's count keeps running, so one
        valid account cannot be used to unlock guessing at others from the same address."""
        if self.account is not None:
            cache.delete(self.account.key(time.time()))
