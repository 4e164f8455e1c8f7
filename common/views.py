"""GET /api/health/: can this process reach its database, its channel layer and its cache (the
shared store of rate-limit counters)? Each is reported on its own, so an operator sees what is
down; any of them down is a 503."""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import counters

logger = logging.getLogger(__name__)

# A load balancer polls this; an unreachable Redis must give a quick 503, not a hung request.
CHANNEL_LAYER_TIMEOUT = 2.0


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("health: database unreachable", exc_info=True)
        return False


async def _round_trip(layer) -> bool:
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    message = await layer.receive(channel)
    return message.get("type") == "health.ping"


def channel_layer_ok(timeout: float | None = None) -> bool:
    """Send a message to a fresh channel and read it back, through the real backend."""
    timeout = timeout or CHANNEL_LAYER_TIMEOUT
    layer = get_channel_layer()
    if layer is None:
        return False

    async def check():
        return await asyncio.wait_for(_round_trip(layer), timeout=timeout)

    try:
        return async_to_sync(check)()
    except Exception:
        logger.warning("health: channel layer unreachable", exc_info=True)
        return False


def cache_ok() -> bool:
    """The shared counter store answers (always true when counters are per process by config)."""
    try:
        return counters.shared_store_ok() is not False
    except Exception:
        logger.warning("health: cache unreachable", exc_info=True)
        return False


_HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "database": serializers.ChoiceField(choices=["ok", "error"]),
        "channel_layer": serializers.ChoiceField(choices=["ok", "error"]),
        "cache": serializers.ChoiceField(choices=["ok", "error"]),
    },
)


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: _HealthSerializer, 503: _HealthSerializer}, auth=[])
    def get(self, request):
        checks = {
            "database": "ok" if database_ok() else "error",
            "channel_layer": "ok" if channel_layer_ok() else "error",
            "cache": "ok" if cache_ok() else "error",
        }
        healthy = all(value == "ok" for value in checks.values())
        return Response({**checks, "status": "ok" if healthy else "degraded"}, status=200 if healthy else 503)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
@authentication_classes([])
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer in JSON like every other API error."""
    return Response({"detail": "Not found."}, status=404)


# Shaped like a page of posts (20 items), built once: the view costs only Django itself.
_FLOOR_PAGE = {
    "count": 20,
    "next": None,
    "previous": None,
    "results": [
        {"id": i, "topic_to_learn": f"topic {i}", "topic_to_teach": "python", "is_completed": False}
        for i in range(1, 21)
    ],
}


def bench_floor(request):
    """The benchmark's floor: what any request costs through this server and middleware.

    Routed only with BENCH_FLOOR_VIEW=True (see linklearn/urls.py)."""
    return JsonResponse(_FLOOR_PAGE)
