import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviews.models import Review
from tests.factories import CompletedSessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def review(*, reviewer, reviewee, rating=5, session=None):
    session = session or CompletedSessionFactory(user1=reviewer, user2=reviewee)
    return Review.objects.create(session=session, reviewer=reviewer, reviewee=reviewee, rating=rating)


def ids(response):
    assert response.status_code == 200, response.content
    return [r["id"] for r in response.json()["results"]]


# users/{id}/reviews/


def test_user_reviews_lists_reviews_received_newest_first(client_for, user, other_user):
    with time_machine.travel("2026-01-01 10:00Z"):
        old = review(reviewer=UserFactory(), reviewee=other_user)
    with time_machine.travel("2026-01-02 10:00Z"):
        new = review(reviewer=UserFactory(), reviewee=other_user)
    review(reviewer=other_user, reviewee=UserFactory())  # given, not received
    assert ids(client_for(user).get(f"/api/users/{other_user.id}/reviews/")) == [new.id, old.id]


def test_user_reviews_of_unknown_user_is_404(client_for, user):
    assert client_for(user).get("/api/users/999999/reviews/").status_code == 404


def test_user_reviews_of_deactivated_user_is_404(client_for, user, other_user):
    other_user.is_active = False
    other_user.save(update_fields=["is_active"])
    assert client_for(user).get(f"/api/users/{other_user.id}/reviews/").status_code == 404


def test_user_reviews_need_authentication(api_client, user):
    assert api_client.get(f"/api/users/{user.id}/reviews/").status_code == 401


def test_user_reviews_are_paginated(client_for, user, other_user):
    for _ in range(3):
        review(reviewer=UserFactory(), reviewee=other_user)
    body = client_for(user).get(f"/api/users/{other_user.id}/reviews/", {"page_size": 2}).json()
    assert (body["count"], len(body["results"])) == (3, 2)


def test_user_reviews_are_read_only(client_for, user, other_user):
    assert client_for(user).post(f"/api/users/{other_user.id}/reviews/", {"rating": 5}).status_code == 405


# sessions/{id}/reviews/


def test_session_reviews_show_both_reviews_to_participants(client_for, user, other_user):
    session = CompletedSessionFactory(user1=user, user2=other_user)
    first = review(reviewer=user, reviewee=other_user, session=session)
    second = review(reviewer=other_user, reviewee=user, session=session)
    for participant in (user, other_user):
        assert set(ids(client_for(participant).get(f"/api/sessions/{session.id}/reviews/"))) == {
            first.id,
            second.id,
        }


def test_session_reviews_are_404_for_outsiders(client_for, user, other_user):
    session = CompletedSessionFactory(user1=user, user2=other_user)
    review(reviewer=user, reviewee=other_user, session=session)
    assert client_for(UserFactory()).get(f"/api/sessions/{session.id}/reviews/").status_code == 404


def test_session_reviews_of_unknown_session_is_404(client_for, user):
    assert client_for(user).get("/api/sessions/999999/reviews/").status_code == 404


# One query count for 1 and for 50 reviews.


def count_queries(client, url):
    # Warm up first: requests below sessions/{id}/ record the caller's presence in the session,
    # which costs more the first time and is not part of what this measures.
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"page_size": 100})
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()["count"]


def test_user_reviews_query_count_does_not_grow(client_for, user, other_user):
    client, url = client_for(user), f"/api/users/{other_user.id}/reviews/"
    review(reviewer=UserFactory(), reviewee=other_user)
    few, _ = count_queries(client, url)
    for _ in range(49):
        review(reviewer=UserFactory(), reviewee=other_user)
    many, count = count_queries(client, url)
    assert count == 50
    assert few == many


def test_session_reviews_query_count_does_not_grow(client_for, user, other_user):
    # Only two reviews fit in one session, so rows beyond them are planted to measure the list.
    session = CompletedSessionFactory(user1=user, user2=other_user)
    client, url = client_for(user), f"/api/sessions/{session.id}/reviews/"
    review(reviewer=user, reviewee=other_user, session=session)
    few, _ = count_queries(client, url)
    for _ in range(49):
        Review.objects.create(session=session, reviewer=UserFactory(), reviewee=user, rating=3)
    many, count = count_queries(client, url)
    assert count == 50
    assert few == many
