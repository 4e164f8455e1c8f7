"""HTTP and WebSockets on one ASGI application (daphne, `runserver` with daphne installed)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linklearn.settings")

# Django must be set up before anything imports models.
django_http = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from common.asgi_limits import BodySizeLimit  # noqa: E402
from realtime.middleware import JWTAuthMiddleware  # noqa: E402
from realtime.origin import origin_checked  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402
from realtime.server_close_codes import allow_server_close_codes  # noqa: E402

allow_server_close_codes()

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_http),
        "websocket": origin_checked(JWTAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
