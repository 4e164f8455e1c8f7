"""HTTP and WebSockets on one ASGI application (daphne, `runserver` with daphne installed)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linklearn.settings")

# Django must be set up before anything imports models.
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from common import daphne_edges  # noqa: E402
from common.asgi_http import DjangoHTTP  # noqa: E402
from common.asgi_limits import BodySizeLimit, URLLengthLimit  # noqa: E402
from common.warmup import freeze_startup_objects, warm_up  # noqa: E402
from realtime.middleware import JWTAuthMiddleware  # noqa: E402
from realtime.origin import origin_checked  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402
from realtime.server_close_codes import allow_server_close_codes  # noqa: E402

allow_server_close_codes()

# Each server process loads what its first requests would otherwise load lazily, all at once.
warm_up()

django_http = DjangoHTTP(threads=settings.HTTP_THREADS)

# Under daphne, over-long request lines get 414 and over-size WebSocket messages close 1009
# instead of a dropped connection; nothing changes under any other server.
daphne_edges.install()

application = ProtocolTypeRouter(
    {
        "http": URLLengthLimit(BodySizeLimit(django_http)),
        "websocket": origin_checked(JWTAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

# Last: everything loaded so far lives as long as the process; garbage collections skip it.
freeze_startup_objects()
