import pytest

from learning.models import LearningPost
from tests.factories import LearningPostFactory

URL = "/api/posts/"
pytestmark = pytest.mark.django_db


def valid(**overrides):
    return {"topic_to_learn": "Python", "topic_to_teach": "Guitar", **overrides}


def test_unauthenticated_is_401(api_client):
    assert api_client.post(URL, valid()).status_code == 401
    assert api_client.get(URL).status_code == 401


def test_create_returns_the_post_owned_by_the_caller(client_for, user):
    response = client_for(user).post(URL, valid(bounty_enabled=True))
    assert response.status_code == 201
    body = response.json()
    assert body["creator_id"] == user.id
    assert body["creator_name"] == user.name
    assert body["creator_rating"] is None
    assert body["topic_to_learn"] == "Python"
    assert body["topic_to_teach"] == "Guitar"
    assert body["bounty_enabled"] is True
    assert body["ok_with_just_learning"] is False
    assert body["is_completed"] is False
    assert set(body) == {
        "id", "creator_id", "creator_name", "creator_rating", "topic_to_learn", "topic_to_teach",
        "ok_with_just_learning", "bounty_enabled", "created_at", "is_completed",
    }  # fmt: skip


def test_creator_in_body_is_ignored(client_for, user, other_user):
    response = client_for(user).post(URL, valid(creator=other_user.id, creator_id=other_user.id))
    assert response.status_code == 201
    assert LearningPost.objects.get().creator == user


def test_is_completed_in_body_is_ignored(client_for, user):
    response = client_for(user).post(URL, valid(is_completed=True))
    assert response.json()["is_completed"] is False


def test_topics_are_stored_trimmed(client_for, user):
    response = client_for(user).post(URL, valid(topic_to_learn="  Python  ", topic_to_teach=" Go "))
    assert (response.json()["topic_to_learn"], response.json()["topic_to_teach"]) == ("Python", "Go")


@pytest.mark.parametrize(
    "body",
    [
        {"topic_to_teach": "Guitar"},
        valid(topic_to_learn=""),
        valid(topic_to_learn="   "),
        valid(topic_to_learn=None),
        valid(topic_to_learn="x" * 256),
        valid(topic_to_teach="x" * 256),
        valid(topic_to_learn=["Python"]),
        valid(ok_with_just_learning="maybe"),
        valid(bounty_enabled={"yes": 1}),
    ],
    ids=[
        "learn-missing", "learn-empty", "learn-blank", "learn-null", "learn-too-long",
        "teach-too-long", "learn-not-string", "flag-not-bool", "bounty-not-bool",
    ],
)  # fmt: skip
def test_invalid_input_is_400_and_creates_nothing(client_for, user, body):
    response = client_for(user).post(URL, body)
    assert response.status_code == 400
    assert not LearningPost.objects.exists()


def test_topics_of_255_characters_are_accepted(client_for, user):
    response = client_for(user).post(URL, valid(topic_to_learn="x" * 255, topic_to_teach="y" * 255))
    assert response.status_code == 201


@pytest.mark.parametrize("teach", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_topic_to_teach_is_required_without_ok_with_just_learning(client_for, user, teach):
    body = valid()
    if teach is None:
        del body["topic_to_teach"]
    else:
        body["topic_to_teach"] = teach
    response = client_for(user).post(URL, body)
    assert response.status_code == 400
    # A field error on topic_to_teach, so a form can show it next to that field.
    assert set(response.json()) == {"topic_to_teach"}
    assert "ok_with_just_learning" in response.json()["topic_to_teach"][0]
    assert not LearningPost.objects.exists()


def test_just_learning_post_needs_no_topic_to_teach(client_for, user):
    response = client_for(user).post(URL, {"topic_to_learn": "Python", "ok_with_just_learning": True})
    assert response.status_code == 201
    assert response.json()["topic_to_teach"] == ""


def test_duplicate_active_topic_is_409_case_insensitively(client_for, user):
    LearningPostFactory(creator=user, topic_to_learn="Python")
    response = client_for(user).post(URL, valid(topic_to_learn="  pYTHON "))
    assert response.status_code == 409
    assert LearningPost.objects.count() == 1


def test_same_topic_is_allowed_after_the_first_post_completed(client_for, user):
    LearningPostFactory(creator=user, topic_to_learn="Python", is_completed=True)
    assert client_for(user).post(URL, valid()).status_code == 201


def test_same_topic_is_allowed_for_another_user(client_for, user, other_user):
    LearningPostFactory(creator=other_user, topic_to_learn="Python")
    assert client_for(user).post(URL, valid()).status_code == 201


def test_put_is_not_offered(client_for, user):
    post = LearningPostFactory(creator=user)
    assert client_for(user).put(f"{URL}{post.id}/", valid()).status_code == 405


def test_body_that_is_not_an_object_is_400(client_for, user):
    assert client_for(user).post(URL, ["Python"]).status_code == 400
    assert not LearningPost.objects.exists()
