"""JWT authentication whose user lookup is a prepared query (common.prepared): the caller is
loaded by SQL compiled once per process instead of a queryset built and compiled per request.
SimpleJWT's own checks (signature, expiry, token type, inactive user) still apply unchanged."""

import functools

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication

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


class JWTAuthentication(SimpleJWTAuthentication):
    """The API's bearer-token authentication (DEFAULT_AUTHENTICATION_CLASSES): the caller as
    `accounts.selectors.<loader>` loads them (`user_by_id` unless told otherwise)."""

    def __init__(self, *args, loader: str = "user_by_id", **kwargs):
        super().__init__(*args, **kwargs)
        # Imported here: DRF imports this class while rest_framework.views is still loading,
        # before the selectors' imports (common.errors imports DRF views) can complete.
        from . import selectors

        self.user_model = _stand_in(getattr(selectors, loader))


def profile_jwt_authentication() -> JWTAuthentication:
    """For `users/me`: the caller comes loaded as `users/me` shows them (credits, presence,
    ratings), in the one query authentication makes anyway. The same class as the default, so
    the OpenAPI schema documents one bearer scheme."""
    return JWTAuthentication(loader="user_me")


class JWTScheme(SimpleJWTScheme):
    # The same bearer scheme (`jwtAuth`) in the OpenAPI schema as SimpleJWT's own class.
    target_class = "accounts.authentication.JWTAuthentication"
    match_subclasses = True
