import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from presence.services import connection_open
from tests.factories import UserFactory

URL = "/api/presence/online/"


def test_online_users_need_authentication(api_client, db):
    assert api_client.get(URL).status_code == 401


def test_lists_only_online_users_with_public_fields(client_for, user, other_user):
    connection_open(connection_id="c1", user=other_user, kind="presence")
    response = client_for(user).get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert response.json()["results"] == [
        {"id": other_user.id, "name": other_user.name, "availability": other_user.availability}
    ]


def test_is_paginated(client_for, user):
    for i, u in enumerate(UserFactory.create_batch(3)):
        connection_open(connection_id=f"c{i}", user=u, kind="presence")
    body = client_for(user).get(URL, {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


@pytest.mark.parametrize("online", [1, 8])
def test_query_count_does_not_grow_with_users(client_for, user, online):
    for i, u in enumerate(UserFactory.create_batch(online)):
        connection_open(connection_id=f"c{i}", user=u, kind="presence")
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    assert len(queries) == 2  # the caller, the page (not full: its own count, common.pagination)


def test_a_deactivated_user_is_not_listed_even_with_a_live_connection(client_for, user, other_user):
    connection_open(connection_id="c1", user=other_user, kind="presence")
    other_user.is_active = False
    other_user.save(update_fields=["is_active"])
    body = client_for(user).get(URL).json()
    assert (body["count"], body["results"]) == (0, [])
