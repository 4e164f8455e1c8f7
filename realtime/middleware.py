"""WebSocket authentication: `?token=<access JWT>`, checked exactly as the REST API checks it."""

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

logger = logging.getLogger(__name__)


def _token_from(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token")
    return values[0] if values else None


@database_sync_to_async
def user_for_token(raw: str | None):
    """The active user an access token belongs to, or AnonymousUser.

    JWTAuthentication is what DRF uses, so expiry, signature, token type (refresh tokens are not
    access tokens), inactive or deleted users and revoked tokens are refused the same way here.
    """
    if not raw:
        return AnonymousUser()
    auth = JWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(raw.encode()))
    except (InvalidToken, TokenError, AuthenticationFailed):
        return AnonymousUser()


class JWTAuthMiddleware:
    """Sets scope["user"]; consumers close anonymous sockets with 4001 themselves (after accept,
    which is the only way a browser ever sees a custom close code)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        scope = dict(scope, user=await user_for_token(_token_from(scope)))
        return await self.inner(scope, receive, send)
