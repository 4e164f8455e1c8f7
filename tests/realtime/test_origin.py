import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from linklearn.asgi import application
from realtime.middleware import JWTAuthMiddleware
from realtime.origin import origin_checked
from realtime.routing import websocket_urlpatterns
from tests.factories import UserFactory
from tests.realtime.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


async def _handshake(user, headers):
    comm = WebsocketCommunicator(application, f"/ws/presence/?token={token_for(user)}", headers=headers)
    connected, _ = await comm.connect(timeout=5)
    if connected:
        await comm.disconnect()
    return connected


async def _user():
    return await sync_to_async(UserFactory)()


async def test_a_page_of_this_site_may_connect():
    assert await _handshake(await _user(), [(b"origin", b"http://localhost:8000")])


async def test_a_native_client_without_an_origin_may_connect():
    assert await _handshake(await _user(), [])


async def test_a_page_of_a_foreign_site_is_refused():
    assert not await _handshake(await _user(), [(b"origin", b"https://evil.example")])


async def test_a_web_client_origin_allowed_for_cors_may_connect(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.linklearn.example"]
    # The allowed origins are read when the stack is built, so build it again after the change.
    app = origin_checked(JWTAuthMiddleware(URLRouter(websocket_urlpatterns)))
    user = await _user()
    comm = WebsocketCommunicator(
        app, f"/ws/presence/?token={token_for(user)}", headers=[(b"origin", b"https://app.linklearn.example")]
    )
    connected, _ = await comm.connect(timeout=5)
    assert connected
    await comm.disconnect()
