"""Clients that get a path slightly wrong get a clear 4xx in JSON, never a redirect or a 500."""

import pytest
from channels.testing import WebsocketCommunicator

from linklearn.asgi import application
from tests.factories import PASSWORD, UserFactory


def test_post_without_trailing_slash_reaches_the_endpoint(api_client, db):
    user = UserFactory()

    response = api_client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert "access" in response.json()["tokens"]


def test_authenticated_get_without_trailing_slash_works(client_for, user):
    response = client_for(user).get("/api/users/me")

    assert response.status_code == 200
    assert response.json()["id"] == user.pk


@pytest.mark.parametrize("path", ["/api/nonexistent/", "/api/posts/1/bogus/", "/api/nope"])
def test_unknown_api_path_is_a_json_404(api_client, db, path):
    response = api_client.post(path, {}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", ["/ws/presence", "/ws/session/abc/", "/ws/nonexistent/", "/"])
async def test_unknown_socket_path_is_refused_not_a_server_error(path):
    comm = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])

    connected, _ = await comm.connect(timeout=5)

    assert not connected
