"""JWT authentication whose user lookup is a prepared query (common.prepared): the caller is
loaded by SQL compiled once per process instead of a queryset built and compiled per request.
SimpleJWT's own checks (signature, expiry, token type, inactive user) still apply unchanged.

A client sends the same access token with every request for its 30 minutes, and decoding it
(base64, JSON, HMAC, claim checks) was ~0.03 ms of every authenticated request. `ValidatedTokens`
keeps the claims of tokens that passed SimpleJWT's validation, keyed by the token's exact bytes (the
same bytes carry the same signature, so they pass the same checks again); only the clock can change
the answer, so expiry is checked again at each use. The user is still loaded at every request, so a
deactivated or deleted user loses access at once."""

import functools
import threading
from collections import OrderedDict

from django.core.signals import setting_changed
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from .models import User


def _user_id(lookup: dict) -> int:
    # SimpleJWT passes the claim as it is in the token (a string); the ORM would convert it to
    # the key's type, a bound parameter does not.
    (value,) = lookup.values()
    try:
        return User._meta.pk.to_python(value)
    except Exception:
        raise User.DoesNotExist from None


@functools.cache  # one class per loader, not one per request
def _stand_in(load):
    """Stands in for the user model in SimpleJWT's lookup: `objects.get(id=...)` returns what
    `load(user_id=...)` returns; a missing user raises the model's DoesNotExist."""

    class Users:
        DoesNotExist = User.DoesNotExist

        class objects:  # noqa: N801 - mirrors the manager attribute SimpleJWT calls
            @staticmethod
            def get(**lookup):
                return load(user_id=_user_id(lookup))

    return Users


class ValidatedTokens:
    """The claims of recently validated access tokens, per process: at most `size`, the least
    recently used dropped first. Only token classes whose validation is SimpleJWT's stateless
    Token.verify are kept: a class that checks something stored per request (a blacklist, as
    SimpleJWT's BlacklistMixin adds) is validated in full every time, as before."""

    def __init__(self, size: int):
        self.size = size
        self._claims = OrderedDict()  # raw token -> (token class, claims)
        self._lock = threading.Lock()

    @staticmethod
    def keepable(token_class) -> bool:
        return token_class.verify is Token.verify and token_class.check_exp is Token.check_exp

    def get(self, raw_token: bytes):
        """The token as SimpleJWT would build it now, or None: never seen, dropped, or expired
        since (then it is forgotten, and full validation gives the usual answer)."""
        with self._lock:
            kept = self._claims.get(raw_token)
            if kept is None:
                return None
            self._claims.move_to_end(raw_token)
        token_class, claims = kept
        token = token_class.__new__(token_class)
        token.token, token.current_time, token.payload = raw_token, aware_utcnow(), dict(claims)
        try:
            token.check_exp()  # what the decode checked the first time, with the same leeway
        except TokenError:
            self.forget(raw_token)
            return None
        return token

    def keep(self, raw_token: bytes, token) -> None:
        if not self.keepable(type(token)):
            return
        with self._lock:
            self._claims[raw_token] = (type(token), dict(token.payload))
            self._claims.move_to_end(raw_token)
            while len(self._claims) > self.size:
                self._claims.popitem(last=False)

    def forget(self, raw_token: bytes) -> None:
        with self._lock:
            self._claims.pop(raw_token, None)

    def clear(self, **kwargs) -> None:
        with self._lock:
            self._claims.clear()

    def __len__(self):
        return len(self._claims)


# A few thousand clients' tokens (~1 KB each) per process; a client beyond that costs one decode.
validated_tokens = ValidatedTokens(size=4096)
# Tests change the signing key or lifetimes: a token validated under other settings is revalidated.
setting_changed.connect(validated_tokens.clear)


class JWTAuthentication(SimpleJWTAuthentication):
    """The API's bearer-token authentication (DEFAULT_AUTHENTICATION_CLASSES): the caller as
    `accounts.selectors.<loader>` loads them (`user_by_id` unless told otherwise), or as
    `loader(user_id=...)` does when it is a function (another app's selector)."""

    def __init__(self, *args, loader="user_by_id", **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(loader, str):
            # Imported here: DRF imports this class while rest_framework.views is still loading,
            # before the selectors' imports (common.errors imports DRF views) can complete.
            from . import selectors

            loader = getattr(selectors, loader)
        self.user_model = _stand_in(loader)

    def get_validated_token(self, raw_token: bytes):
        token = validated_tokens.get(raw_token)
        if token is None:
            token = super().get_validated_token(raw_token)  # raises InvalidToken as SimpleJWT does
            validated_tokens.keep(raw_token, token)
        return token


def profile_jwt_authentication() -> JWTAuthentication:
    """For `users/me`: the caller comes loaded as `users/me` shows them (credits, presence,
    ratings), in the one query authentication makes anyway. The same class as the default, so
    the OpenAPI schema documents one bearer scheme."""
    return JWTAuthentication(loader="user_me")


class JWTScheme(SimpleJWTScheme):
    # The same bearer scheme (`jwtAuth`) in the OpenAPI schema as SimpleJWT's own class.
    target_class = "accounts.authentication.JWTAuthentication"
    match_subclasses = True
