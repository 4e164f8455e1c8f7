"""Which WebSocket handshakes may come in, by their Origin header."""

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    """Refuse browser pages from foreign sites; let native clients without an Origin through.

    Origin checks exist to stop another site's page from riding on a browser's ambient
    credentials. Our sockets authenticate with an explicit `?token=`, and every browser sends
    an Origin, so a handshake without one comes from a mobile app or a script, which Channels'
    stock validator would refuse although the SPEC promises them the same sockets.
    """

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def allowed_origins() -> list[str]:
    """The hosts this site answers to, plus the web clients' origins allowed for CORS."""
    return [*settings.ALLOWED_HOSTS, *settings.CORS_ALLOWED_ORIGINS]


def origin_checked(application):
    return BrowserOriginValidator(application, allowed_origins())
