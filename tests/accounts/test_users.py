from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from presence.models import Connection
from presence.services import connection_open
from reviews.models import Review
from tests.factories import ActiveSessionFactory, UserFactory

ME = "/api/users/me/"


def review(reviewee, rating):
    session = ActiveSessionFactory(user2=reviewee)
    return Review.objects.create(session=session, reviewer=session.user1, reviewee=reviewee, rating=rating)


def test_me_shows_every_field(user, client_for):
    body = client_for(user).get(ME).json()
    assert set(body) == {"id", "email", "name", "credits", "is_online", "availability", "date_joined"} | {
        "average_rating",
        "total_reviews",
    }
    assert body["email"] == user.email
    assert body["credits"] == "15.00"
    assert body["availability"] == "Evenings"


def test_me_is_one_query_with_authentication(user, client_for):
    review(user, 5)
    client = client_for(user)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(ME).json()
    assert body["total_reviews"] == 1
    assert len(queries) == 1


def test_me_of_a_deactivated_user_is_401(user, client_for):
    client = client_for(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(ME).status_code == 401


# users/me's loader, the default one, and the posts list's (its page kept after the first request)
@pytest.mark.parametrize("path", [ME, "/api/sessions/", "/api/posts/"])
def test_a_user_deactivated_after_many_requests_loses_access_at_once(user, client_for, path):
    # On PostgreSQL the lookups are prepared statements after a few runs on a connection
    # (DB_PREPARE_THRESHOLD, 5): a kept plan, never a kept answer.
    client = client_for(user)
    for _ in range(8):
        assert client.get(path).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(path).status_code == 401
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert client.get(path).status_code == 200


def test_me_average_rating_is_a_number_rounded_to_two_places(user, client_for):
    for rating in (5, 4, 4):
        review(user, rating)
    body = client_for(user).get(ME).json()
    assert body["average_rating"] == pytest.approx(4.33)
    assert body["total_reviews"] == 3


def test_me_is_online_with_a_live_connection(user, client_for):
    connection_open(connection_id="c1", user=user, kind="presence")
    assert client_for(user).get(ME).json()["is_online"] is True


def test_me_is_offline_when_the_connection_expired(user, client_for):
    old = timezone.now() - timedelta(hours=1)
    Connection.objects.create(id="c1", user=user, kind="presence", opened_at=old, last_seen_at=old)
    assert client_for(user).get(ME).json()["is_online"] is False


def test_patch_me_changes_name_and_availability(user, client_for):
    response = client_for(user).patch(ME, {"name": " New Name ", "availability": "Weekends"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "New Name"
    user.refresh_from_db()
    assert (user.name, user.availability) == ("New Name", "Weekends")


def test_patch_me_ignores_protected_fields(user, client_for):
    body = {
        "credits": "9999.00",
        "email": "evil@example.com",
        "id": 12345,
        "is_staff": True,
        "is_superuser": True,
        "password": "hijacked-password-1",
        "date_joined": "2000-01-01T00:00:00Z",
    }
    response = client_for(user).patch(ME, body, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email != "evil@example.com"
    assert not User.objects.filter(pk=12345).exists()
    assert not user.is_staff and not user.is_superuser
    assert not user.check_password("hijacked-password-1")
    assert user.ledger_account.balance == Decimal("15.00")
    assert response.json()["credits"] == "15.00"


def test_patch_me_refuses_a_name_taken_in_another_case(user, other_user, client_for):
    response = client_for(user).patch(ME, {"name": other_user.name.upper()}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_patch_me_may_change_the_case_of_ones_own_name(user, client_for):
    assert client_for(user).patch(ME, {"name": user.name.upper()}, format="json").status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "   "}, {"name": "x" * 151}, {"availability": "a" * 256}],
    ids=["name-empty", "name-blank", "name-too-long", "availability-too-long"],
)
def test_patch_me_refuses_bad_values(user, client_for, body):
    assert client_for(user).patch(ME, body, format="json").status_code == 400
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.name, fresh.availability) == (user.name, user.availability)


def test_availability_may_be_cleared(user, client_for):
    assert client_for(user).patch(ME, {"availability": ""}, format="json").json()["availability"] == ""


def test_put_me_is_not_allowed(user, client_for):
    assert client_for(user).put(ME, {"name": "X"}, format="json").status_code == 405


def test_public_profile_has_no_email(user, other_user, client_for):
    response = client_for(user).get(f"/api/users/{other_user.id}/")
    assert response.status_code == 200
    assert response.json() == {
        "id": other_user.id,
        "name": other_user.name,
        "is_online": False,
        "availability": "Evenings",
        "average_rating": None,
        "total_reviews": 0,
    }


@pytest.mark.parametrize("pk", [999999, 2**63, 2**70])
def test_unknown_user_is_404(user, client_for, pk):
    assert client_for(user).get(f"/api/users/{pk}/").status_code == 404


def test_deactivated_user_is_404(user, other_user, client_for):
    other_user.is_active = False
    other_user.save(update_fields=["is_active"])
    assert client_for(user).get(f"/api/users/{other_user.id}/").status_code == 404


def test_profiles_need_authentication(api_client, user):
    assert api_client.get(f"/api/users/{user.id}/").status_code == 401
    assert api_client.get("/api/users/").status_code == 401


def test_search_is_a_plain_array_of_public_profiles_in_any_case(user, client_for):
    UserFactory(name="Grace Hopper")
    UserFactory(name="grace kelly")
    UserFactory(name="Alan Turing")
    body = client_for(user).get("/api/users/", {"search": "GRACE"}).json()
    # The original client's type-ahead reads an array, not a page.
    assert isinstance(body, list)
    assert [u["name"] for u in body] == ["Grace Hopper", "grace kelly"]
    assert all(
        set(u) == {"id", "name", "is_online", "availability", "average_rating", "total_reviews"} for u in body
    )


def test_search_puts_names_starting_with_the_query_first(user, client_for):
    for name in ("Ann Bell", "Bella Ng", "Isabel", "bell hooks", "Zed Bellamy"):
        UserFactory(name=name)
    names = [u["name"] for u in client_for(user).get("/api/users/", {"search": "bel"}).json()]
    assert names == ["bell hooks", "Bella Ng", "Ann Bell", "Isabel", "Zed Bellamy"]


def test_search_answers_at_most_twenty_prefix_matches_first(user, client_for):
    for n in range(25):
        UserFactory(name=f"Zoe {n:02}")
    UserFactory(name="Amazoe")  # contains "zoe", but does not start with it
    body = client_for(user).get("/api/users/", {"search": "zoe"}).json()
    assert len(body) == 20
    assert [u["name"] for u in body] == [f"Zoe {n:02}" for n in range(20)]


@pytest.mark.parametrize(
    "params", [{}, {"search": ""}, {"search": "   "}], ids=["missing", "blank", "spaces"]
)
def test_search_without_a_query_finds_nobody(user, client_for, params):
    UserFactory.create_batch(3)
    response = client_for(user).get("/api/users/", params)
    assert response.status_code == 200
    assert response.json() == []


def test_search_is_not_paginated(user, client_for):
    for n in range(3):
        UserFactory(name=f"Paged {n}")
    body = client_for(user).get("/api/users/", {"search": "paged", "page_size": 1, "page": 2}).json()
    assert [u["name"] for u in body] == ["Paged 0", "Paged 1", "Paged 2"]


def test_search_treats_like_wildcards_literally(user, client_for):
    UserFactory(name="100% Ada")
    UserFactory(name="1000 Ada")
    assert [u["name"] for u in client_for(user).get("/api/users/", {"search": "0%"}).json()] == ["100% Ada"]
    assert client_for(user).get("/api/users/", {"search": "_"}).json() == []


def test_search_with_an_overlong_query_is_400(user, client_for):
    response = client_for(user).get("/api/users/", {"search": "x" * 151})
    assert response.status_code == 400
    assert "search" in response.json()


def _search_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/users/", {"search": "user"}).status_code == 200
    return len(queries)


def test_search_costs_the_same_queries_for_one_and_thirty_users(user, client_for):
    client = client_for(user)
    one = _search_queries(client)
    for u in UserFactory.create_batch(29):
        review(u, 4)
    assert User.objects.count() > 30
    assert len(client.get("/api/users/", {"search": "user"}).json()) == 20
    assert _search_queries(client) == one


def test_the_schema_shows_search_as_an_array(api_client, db):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    answer = schema["paths"]["/api/users/"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert answer["type"] == "array"
    assert answer["items"]["$ref"].endswith("/PublicUser")
