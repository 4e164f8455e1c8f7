"""Rate limits for the endpoints anyone can call without a token.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] and are read on every request (not
frozen at import like DRF's own throttles), so a changed setting applies at once. Counters live in
common.counters: in Redis when configured, so every server process shares them, and in the process
while Redis is unreachable, so an outage limits per process instead of refusing every sign-in.

Every request takes its place in a counter with one atomic increment *before* the work it is
limited for, and is refused if that place is past the limit. Reading the count first and writing
it after (as DRF's SimpleRateThrottle does, and as a count of failures recorded after the slow
password check would) lets any number of parallel requests read "under the limit" together.
"""

import hashlib
import re
import time
from dataclasses import dataclass

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from common import counters

from .models import User

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


@dataclass(frozen=True)
class _Window:
    prefix: str
    limit: int
    seconds: int

    def key(self, now: float) -> str:
        # Windows are aligned to the clock, so the key itself says which window a count is in
        # and no separate expiry bookkeeping is needed.
        return f"{self.prefix}:{int(now // self.seconds)}"

    def ends_in(self, now: float) -> float:
        return self.seconds - (now % self.seconds)


def _window(scope: str, ident: str) -> _Window | None:
    limit, seconds = parse_rate(rate_for(scope))
    if limit is None:
        return None
    return _Window(prefix=f"throttle:{scope}:{ident}", limit=limit, seconds=seconds)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class PerIPThrottle(BaseThrottle):
    """At most the `scope` rate of requests per client IP, in fixed windows."""

    scope: str

    def allow_request(self, request, view):
        self._wait = None
        window = _window(self.scope, f"ip:{self.get_ident(request)}")
        if window is None:
            return True
        now = time.time()
        if counters.take(window.key(now), window.seconds) > window.limit:
            self._wait = window.ends_in(now)
            return False
        return True

    def wait(self):
        return self._wait


class SignupThrottle(PerIPThrottle):
    scope = "signup"


class TokenRefreshThrottle(PerIPThrottle):
    scope = "token_refresh"


class Attempt:
    """One request counted in several windows at once, before the work they limit."""

    windows: list[_Window]

    def __init__(self, windows):
        self.windows = [w for w in windows if w is not None]
        self.taken: list[tuple[_Window, str]] = []

    def reserve(self) -> float | None:
        """Counts this attempt in advance. Returns None if it may go ahead, else the seconds
        until it may be tried again (and counts nothing)."""
        now = time.time()
        for window in self.windows:
            key = window.key(now)
            self.taken.append((window, key))
            if counters.take(key, window.seconds) > window.limit:
                # A refused attempt did no work, so it counts nowhere: otherwise requests refused
                # by one window would still use up the others (e.g. an account's ceiling).
                self._give_back_all()
                return window.ends_in(now)
        return None

    def _give_back_all(self) -> None:
        for _, key in self.taken:
            counters.give_back(key)
        self.taken = []


class LoginAttempt(Attempt):
    """Limits failed password checks per (account, IP) pair, per IP, and per account across all
    IPs: logins, and the password checks of password change and account deletion, which share
    these counts (a stolen access token must not guess the password faster than a login could).

    Only failures count, so people who type their password right are never slowed down. Each
    attempt is counted as a failure *before* its password is checked; a success takes that back.

    - (account, IP) pair, `login_failures_account`: once over, that pair is refused even the
      right password until the window ends (else the one attempt let through would confirm a
      guess). The account's owner, coming from another address, is not affected.
    - IP, `login_failures_ip`: guessing at many accounts from one address.
    - account across all IPs, `login_failures_account_total`: guessing spread over many
      addresses. A large enough botnet can still lock the real user out, but only past this much
      higher bar.
    """

    def __init__(self, request, email: str):
        account = _digest(User.objects.normalize_email(email))
        ip = BaseThrottle().get_ident(request)
        self.pair = _window("login_failures_account", f"pair:{_digest(f'{account}|{ip}')}")
        super().__init__(
            [
                self.pair,
                _window("login_failures_ip", f"ip:{ip}"),
                _window("login_failures_account_total", f"account:{account}"),
            ]
        )

    def succeeded(self) -> None:
        """The password was right: the pair starts afresh. The IP's and account's counts only
        lose this attempt, so one valid account can't unlock guessing at others from an IP."""
        for window, key in self.taken:
            if window is self.pair:
                counters.forget(key)
            else:
                counters.give_back(key)
        self.taken = []


class PasswordResetAttempt(Attempt):
    """Reset requests per client IP (`password_reset_ip`) and per email address, any case
    (`password_reset_email`), counted alike for registered and unknown addresses, so a 429
    tells nothing about whether an account exists."""

    def __init__(self, request, email: str):
        account = _digest(User.objects.normalize_email(email))
        ip = BaseThrottle().get_ident(request)
        super().__init__(
            [_window("password_reset_ip", f"ip:{ip}"), _window("password_reset_email", f"account:{account}")]
        )
