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
def user_for_token(raw: str | None) -> tuple:
    """(the active user an access token belongs to, the token's `exp` in epoch seconds), or
    (AnonymousUser, None).

    JWTAuthentication is what DRF uses, so expiry, signature, token type (refresh tokens are not
    access tokens), inactive or deleted users and revoked tokens are refused the same way here.
    """
    if not raw:
        return AnonymousUser(), None
    auth = JWTAuthentication()
    try:
        token = auth.get_validated_token(raw.encode())
        return auth.get_user(token), token.get("exp")
    except (InvalidToken, TokenError, AuthenticationFailed):
        return AnonymousUser(), None


class JWTAuthMiddleware:
    """Sets scope["user"] and scope["token_exp"]; consumers close anonymous sockets with 4001
    themselves (after accept, which is the only way a browser ever sees a custom close code), and
    close open sockets with 4001 once the token expires."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user, exp = await user_for_token(_token_from(scope))
        scope = dict(scope, user=user, token_exp=exp)
        return await self.inner(scope, receive, send)
