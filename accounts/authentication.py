"""JWT authentication that loads the caller as `users/me` shows them, in the one query that
authentication makes anyway (SimpleJWT's own checks, inactive and revoked, still apply)."""

from rest_framework_simplejwt.authentication import JWTAuthentication

from . import selectors
from .models import User


class _Profiles:
    """Stands in for the user model in SimpleJWT's lookup: `objects.get(id=...)` returns the
    annotated profile, a missing user raises the model's DoesNotExist."""

    DoesNotExist = User.DoesNotExist

    class objects:  # noqa: N801 - mirrors the manager attribute SimpleJWT calls
        @staticmethod
        def get(**lookup):
            return selectors.users_me().get(**lookup)


def profile_jwt_authentication() -> JWTAuthentication:
    # An instance of SimpleJWT's own class (not a subclass), so the OpenAPI schema documents
    # it as the same bearer scheme as every other endpoint.
    authentication = JWTAuthentication()
    authentication.user_model = _Profiles
    return authentication
