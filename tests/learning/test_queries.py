"""Lists cost the same number of queries for 1 post as for 50, ratings included."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from learning.services import posts_list_changed
from reviews.models import Review
from tests.factories import CompletedSessionFactory, LearningPostFactory, UserFactory

pytestmark = pytest.mark.django_db


def rated_user():
    teacher, learner = UserFactory(), UserFactory()
    session = CompletedSessionFactory(user1=teacher, user2=learner)
    Review.objects.create(session=session, reviewer=learner, reviewee=teacher, rating=4)
    return teacher


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"page_size": 100})
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()["count"]


def make_offers(n, **kwargs):
    for _ in range(n):
        LearningPostFactory(creator=rated_user(), topic_to_teach="Python", topic_to_learn="Guitar", **kwargs)


# Authentication and the page (a page that is not full is its own count, common.pagination);
# matches also reads the caller's own topics first, and ranks before it loads the page's posts.
@pytest.mark.parametrize(("url", "expected"), [("/api/posts/", 2), ("/api/posts/matches/", 4)])
def test_other_users_posts_lists(client_for, user, url, expected):
    LearningPostFactory(creator=user, topic_to_learn="Python", topic_to_teach="Guitar")
    client = client_for(user)
    make_offers(1)
    few, count_few = count_queries(client, url)
    make_offers(49)
    posts_list_changed()  # the factories write past the services, which would have said so
    many, count_many = count_queries(client, url)
    assert count_many == count_few + 49
    assert few == many == expected


def test_my_posts(client_for, user):
    client = client_for(user)
    LearningPostFactory(creator=user)
    few, _ = count_queries(client, "/api/posts/my_posts/")
    LearningPostFactory.create_batch(49, creator=user)
    many, count = count_queries(client, "/api/posts/my_posts/")
    assert count == 50
    assert few == many == 2


def test_creator_rating_is_the_average_of_received_reviews(client_for, user):
    teacher = rated_user()
    learner = UserFactory()
    session = CompletedSessionFactory(user1=teacher, user2=learner)
    Review.objects.create(session=session, reviewer=learner, reviewee=teacher, rating=5)
    post = LearningPostFactory(creator=teacher)
    assert client_for(user).get(f"/api/posts/{post.id}/").json()["creator_rating"] == 4.5
