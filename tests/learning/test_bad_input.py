"""Bad input on learning posts gets a clear 4xx and changes nothing, never a 500."""

import pytest

from common.errors import Invalid
from learning import services
from learning.models import LearningPost
from tests.factories import LearningPostFactory

pytestmark = pytest.mark.django_db

URL = "/api/posts/"
HUGE = 10**30


@pytest.fixture
def post(user):
    return LearningPostFactory(creator=user, topic_to_learn="Python", topic_to_teach="Guitar")


def test_update_of_a_field_that_is_not_editable_is_invalid(user, other_user, post):
    with pytest.raises(Invalid):
        services.post_update(post_id=post.id, user=user, creator=other_user)
    assert LearningPost.objects.get(pk=post.pk).creator == user


def test_patch_with_null_topic_and_a_non_boolean_flag_is_400_and_changes_nothing(client_for, user, post):
    body = {"topic_to_learn": None, "ok_with_just_learning": "maybe"}
    assert client_for(user).patch(f"{URL}{post.id}/", body, format="json").status_code == 400
    fresh = LearningPost.objects.get(pk=post.pk)
    assert (fresh.topic_to_learn, fresh.topic_to_teach, fresh.ok_with_just_learning) == (
        "Python",
        "Guitar",
        False,
    )


@pytest.fixture
def many_posts(user):
    LearningPostFactory.create_batch(101, creator=user)


def test_page_size_is_capped_at_100(client_for, user, many_posts):
    body = client_for(user).get(URL, {"page_size": 500}).json()
    assert (body["count"], len(body["results"])) == (101, 100)


@pytest.mark.parametrize("page_size", ["abc", "0", "-1"])
def test_unusable_page_size_falls_back_to_20(client_for, user, many_posts, page_size):
    response = client_for(user).get(URL, {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 20


def test_page_past_the_end_is_404(client_for, user, post):
    assert client_for(user).get(URL, {"page": 999}).status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("patch", ""), ("delete", ""), ("post", "complete/")],
)
def test_huge_post_id_is_404(client_for, user, method, suffix):
    response = getattr(client_for(user), method)(f"{URL}{HUGE}/{suffix}", {}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("field", ["topic_to_learn", "topic_to_teach"])
def test_a_number_as_a_topic_is_400_on_that_field(client_for, user, field):
    body = {"topic_to_learn": "Python", "topic_to_teach": "Go", field: 1e308}
    response = client_for(user).post("/api/posts/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {field}
