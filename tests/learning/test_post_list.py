import pytest
import time_machine

from tests.factories import LearningPostFactory, UserFactory

URL = "/api/posts/"
pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.content
    return [post["id"] for post in response.json()["results"]]


def test_lists_active_posts_newest_first(client_for, user):
    with time_machine.travel("2026-01-01 10:00Z"):
        old = LearningPostFactory()
    with time_machine.travel("2026-01-02 10:00Z"):
        new = LearningPostFactory()
    LearningPostFactory(is_completed=True)
    response = client_for(user).get(URL)
    assert ids(response) == [new.id, old.id]
    assert response.json()["count"] == 2


def test_topic_searches_both_topics_case_insensitively(client_for, user):
    learn = LearningPostFactory(topic_to_learn="Advanced PYTHON", topic_to_teach="Chess")
    teach = LearningPostFactory(topic_to_learn="Chess", topic_to_teach="python basics")
    LearningPostFactory(topic_to_learn="Cooking", topic_to_teach="Go")
    assert set(ids(client_for(user).get(URL, {"topic": "Python"}))) == {learn.id, teach.id}


def test_blank_topic_filter_is_ignored(client_for, user):
    LearningPostFactory.create_batch(2)
    assert len(ids(client_for(user).get(URL, {"topic": "  "}))) == 2


def test_creator_filter(client_for, user, other_user):
    mine = LearningPostFactory(creator=user)
    LearningPostFactory(creator=other_user)
    assert ids(client_for(user).get(URL, {"creator": user.id})) == [mine.id]


def test_empty_creator_filter_is_ignored(client_for, user):
    LearningPostFactory.create_batch(2)
    assert len(ids(client_for(user).get(URL, {"creator": ""}))) == 2


@pytest.mark.parametrize("creator", ["abc", "1.5", "-1", "99999999999999999999999"])
def test_bad_creator_filter_is_400(client_for, user, creator):
    response = client_for(user).get(URL, {"creator": creator})
    assert response.status_code == 400
    assert "creator" in response.json()


def test_posts_of_deactivated_users_are_hidden(client_for, user):
    gone = UserFactory()
    LearningPostFactory(creator=gone)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    assert ids(client_for(user).get(URL)) == []


def test_list_is_paginated(client_for, user):
    LearningPostFactory.create_batch(3)
    body = client_for(user).get(URL, {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"]


def test_my_posts_lists_only_my_active_posts(client_for, user, other_user):
    with time_machine.travel("2026-01-01 10:00Z"):
        first = LearningPostFactory(creator=user)
    with time_machine.travel("2026-01-02 10:00Z"):
        second = LearningPostFactory(creator=user)
    LearningPostFactory(creator=user, is_completed=True)
    LearningPostFactory(creator=other_user)
    assert ids(client_for(user).get(f"{URL}my_posts/")) == [second.id, first.id]


def test_my_posts_needs_authentication(api_client):
    assert api_client.get(f"{URL}my_posts/").status_code == 401


def test_detail_shows_any_post_to_any_user(client_for, user, other_user):
    post = LearningPostFactory(creator=other_user)
    body = client_for(user).get(f"{URL}{post.id}/").json()
    assert body["id"] == post.id
    assert body["creator_id"] == other_user.id


def test_completed_post_is_still_readable_by_id(client_for, user):
    post = LearningPostFactory(is_completed=True)
    response = client_for(user).get(f"{URL}{post.id}/")
    assert response.status_code == 200
    assert response.json()["is_completed"] is True


@pytest.mark.parametrize("post_id", ["999999", "abc"])
def test_unknown_post_is_404(client_for, user, post_id):
    assert client_for(user).get(f"{URL}{post_id}/").status_code == 404
