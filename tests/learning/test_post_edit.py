import pytest

from learning.models import LearningPost
from tests.factories import CompletedSessionFactory, LearningPostFactory

pytestmark = pytest.mark.django_db


def url(post, suffix=""):
    return f"/api/posts/{post.id}/{suffix}"


@pytest.fixture
def post(user):
    return LearningPostFactory(creator=user, topic_to_learn="Python", topic_to_teach="Guitar")


# PATCH


def test_creator_can_edit_the_four_writable_fields(client_for, user, post):
    changes = {
        "topic_to_learn": " Rust ",
        "topic_to_teach": "",
        "ok_with_just_learning": True,
        "bounty_enabled": True,
    }
    response = client_for(user).patch(url(post), changes)
    assert response.status_code == 200
    body = response.json()
    assert (body["topic_to_learn"], body["topic_to_teach"]) == ("Rust", "")
    assert body["ok_with_just_learning"] is True
    assert body["bounty_enabled"] is True


def test_read_only_fields_are_ignored(client_for, user, other_user, post):
    response = client_for(user).patch(
        url(post), {"creator": other_user.id, "is_completed": True, "id": 12345, "bounty_enabled": True}
    )
    assert response.status_code == 200
    post.refresh_from_db()
    assert (post.creator_id, post.is_completed, post.bounty_enabled) == (user.id, False, True)


def test_other_users_get_403_and_change_nothing(client_for, other_user, post):
    response = client_for(other_user).patch(url(post), {"topic_to_learn": "Hacked"})
    assert response.status_code == 403
    post.refresh_from_db()
    assert post.topic_to_learn == "Python"


def test_unauthenticated_edit_is_401(api_client, post):
    assert api_client.patch(url(post), {"topic_to_learn": "X"}).status_code == 401


def test_edit_unknown_post_is_404(client_for, user):
    assert client_for(user).patch("/api/posts/999999/", {"topic_to_learn": "X"}).status_code == 404


@pytest.mark.parametrize(
    "changes",
    [
        {"topic_to_learn": ""},
        {"topic_to_learn": "   "},
        {"topic_to_learn": "x" * 256},
        {"topic_to_teach": "y" * 256},
    ],
    ids=["learn-empty", "learn-blank", "learn-too-long", "teach-too-long"],
)
def test_invalid_edit_is_400(client_for, user, post, changes):
    assert client_for(user).patch(url(post), changes).status_code == 400
    post.refresh_from_db()
    assert (post.topic_to_learn, post.topic_to_teach) == ("Python", "Guitar")


def test_clearing_topic_to_teach_needs_ok_with_just_learning(client_for, user, post):
    assert client_for(user).patch(url(post), {"topic_to_teach": ""}).status_code == 400


def test_turning_off_just_learning_without_topic_to_teach_is_400(client_for, user):
    post = LearningPostFactory(creator=user, topic_to_teach="", ok_with_just_learning=True)
    assert client_for(user).patch(url(post), {"ok_with_just_learning": False}).status_code == 400


def test_renaming_onto_another_active_topic_is_409(client_for, user, post):
    LearningPostFactory(creator=user, topic_to_learn="Rust")
    assert client_for(user).patch(url(post), {"topic_to_learn": "RUST"}).status_code == 409
    post.refresh_from_db()
    assert post.topic_to_learn == "Python"


def test_changing_only_the_case_of_own_topic_is_allowed(client_for, user, post):
    response = client_for(user).patch(url(post), {"topic_to_learn": "PYTHON"})
    assert response.status_code == 200
    assert response.json()["topic_to_learn"] == "PYTHON"


def test_completed_post_cannot_be_edited(client_for, user):
    post = LearningPostFactory(creator=user, is_completed=True)
    assert client_for(user).patch(url(post), {"bounty_enabled": True}).status_code == 409


# DELETE


def test_creator_can_delete(client_for, user, post):
    assert client_for(user).delete(url(post)).status_code == 204
    assert not LearningPost.objects.filter(pk=post.pk).exists()
    assert client_for(user).get(url(post)).status_code == 404


def test_other_users_cannot_delete(client_for, other_user, post):
    assert client_for(other_user).delete(url(post)).status_code == 403
    assert LearningPost.objects.filter(pk=post.pk).exists()


def test_delete_unknown_post_is_404(client_for, user):
    assert client_for(user).delete("/api/posts/999999/").status_code == 404


def test_deleting_keeps_sessions_and_clears_their_link(client_for, user, other_user, post):
    session = CompletedSessionFactory(user1=other_user, user2=user, learning_request=post)
    assert client_for(user).delete(url(post)).status_code == 204
    session.refresh_from_db()
    assert session.learning_request_id is None
    assert session.status == "completed"


# complete


@pytest.mark.parametrize("method", ["post", "patch"])
def test_creator_completes_a_post(client_for, user, post, method):
    response = getattr(client_for(user), method)(url(post, "complete/"))
    assert response.status_code == 200
    assert response.json()["is_completed"] is True
    post.refresh_from_db()
    assert post.completed_at is not None


def test_completed_post_leaves_the_active_lists(client_for, user, post):
    client_for(user).post(url(post, "complete/"))
    assert client_for(user).get("/api/posts/").json()["count"] == 0
    assert client_for(user).get("/api/posts/my_posts/").json()["count"] == 0


def test_completing_twice_is_409(client_for, user, post):
    client = client_for(user)
    assert client.post(url(post, "complete/")).status_code == 200
    assert client.post(url(post, "complete/")).status_code == 409


def test_other_users_cannot_complete(client_for, other_user, post):
    assert client_for(other_user).post(url(post, "complete/")).status_code == 403
    post.refresh_from_db()
    assert post.is_completed is False


def test_complete_unknown_post_is_404(client_for, user):
    assert client_for(user).post("/api/posts/999999/complete/").status_code == 404


def test_complete_with_get_is_405(client_for, user, post):
    assert client_for(user).get(url(post, "complete/")).status_code == 405


def test_collection_delete_is_405(client_for, user):
    assert client_for(user).delete("/api/posts/").status_code == 405
