import pytest

from reviews.models import Review
from tests.factories import ActiveSessionFactory, CompletedSessionFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(session_id):
    return f"/api/sessions/{session_id}/reviews/"


@pytest.fixture
def session(user, other_user):
    return CompletedSessionFactory(user1=user, user2=other_user)


def test_participant_reviews_the_other_participant(client_for, user, other_user, session):
    response = client_for(user).post(url(session.id), {"rating": 5, "comment": "Great teacher"})
    assert response.status_code == 201
    body = response.json()
    assert body["session"] == session.id
    assert (body["reviewer"], body["reviewer_name"]) == (user.id, user.name)
    assert (body["reviewee"], body["reviewee_name"]) == (other_user.id, other_user.name)
    assert (body["rating"], body["comment"]) == (5, "Great teacher")
    assert set(body) == {
        "id", "session", "reviewer", "reviewer_name", "reviewee", "reviewee_name", "rating", "comment",
        "created_at",
    }  # fmt: skip


def test_invitee_reviews_the_creator(client_for, user, other_user, session):
    response = client_for(other_user).post(url(session.id), {"rating": 3})
    assert response.status_code == 201
    assert response.json()["reviewee"] == user.id
    assert response.json()["comment"] == ""


def test_both_participants_can_review_the_same_session(client_for, user, other_user, session):
    assert client_for(user).post(url(session.id), {"rating": 4}).status_code == 201
    assert client_for(other_user).post(url(session.id), {"rating": 2}).status_code == 201


def test_reviewing_twice_is_409_and_keeps_the_first(client_for, user, session):
    client = client_for(user)
    client.post(url(session.id), {"rating": 5})
    response = client.post(url(session.id), {"rating": 1})
    assert response.status_code == 409
    assert list(Review.objects.values_list("rating", flat=True)) == [5]


@pytest.mark.parametrize("factory", [SessionFactory, ActiveSessionFactory], ids=["pending", "active"])
def test_reviewing_an_unfinished_session_is_409(client_for, user, other_user, factory):
    session = factory(user1=user, user2=other_user)
    assert client_for(user).post(url(session.id), {"rating": 5}).status_code == 409
    assert not Review.objects.exists()


def test_reviewing_a_rejected_session_is_409(client_for, user, other_user):
    session = SessionFactory(user1=user, user2=other_user, status="rejected")
    assert client_for(user).post(url(session.id), {"rating": 5}).status_code == 409


def test_non_participant_gets_404(client_for, session):
    outsider = UserFactory()
    assert client_for(outsider).post(url(session.id), {"rating": 5}).status_code == 404
    assert not Review.objects.exists()


def test_unknown_session_is_404(client_for, user):
    assert client_for(user).post(url(999999), {"rating": 5}).status_code == 404


def test_huge_session_id_is_404(client_for, user):
    assert client_for(user).post(url(10**30), {"rating": 5}).status_code == 404


def test_unauthenticated_is_401(api_client, session):
    assert api_client.post(url(session.id), {"rating": 5}).status_code == 401
    assert api_client.get(url(session.id)).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"rating": 0},
        {"rating": 6},
        {"rating": -1},
        {"rating": 4.5},
        {"rating": "five"},
        {"rating": None},
        {"rating": 5, "comment": "x" * 2001},
        {"rating": 5, "comment": None},
    ],
    ids=[
        "missing",
        "zero",
        "six",
        "negative",
        "fraction",
        "word",
        "null",
        "comment-too-long",
        "comment-null",
    ],
)
def test_invalid_review_is_400(client_for, user, session, body):
    assert client_for(user).post(url(session.id), body).status_code == 400
    assert not Review.objects.exists()


def test_comment_of_2000_characters_is_accepted(client_for, user, session):
    assert client_for(user).post(url(session.id), {"rating": 5, "comment": "x" * 2000}).status_code == 201


def test_reviewer_and_reviewee_in_body_are_ignored(client_for, user, other_user, session):
    outsider = UserFactory()
    body = {"rating": 5, "reviewer": outsider.id, "reviewee": outsider.id, "session": 999}
    client_for(user).post(url(session.id), body)
    review = Review.objects.get()
    assert (review.reviewer, review.reviewee, review.session) == (user, other_user, session)


def test_review_moves_the_reviewees_rating(client_for, user, other_user, session):
    second = CompletedSessionFactory(user1=other_user, user2=user)
    client = client_for(user)
    client.post(url(session.id), {"rating": 5})
    client.post(url(second.id), {"rating": 4})
    body = client.get(f"/api/users/{other_user.id}/reviews/").json()
    assert body["count"] == 2
    assert Review.objects.filter(reviewee=other_user).count() == 2
    profile = client.get(f"/api/users/{other_user.id}/").json()
    assert (profile["average_rating"], profile["total_reviews"]) == (pytest.approx(4.5), 2)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_405(client_for, user, session, method):
    assert getattr(client_for(user), method)(url(session.id)).status_code == 405


def test_body_that_is_not_an_object_is_400(client_for, user, session):
    assert client_for(user).post(url(session.id), [5]).status_code == 400
    assert not Review.objects.exists()


def test_boolean_rating_is_400(client_for, user, session):
    # JSON true would otherwise pass as the integer 1.
    assert client_for(user).post(url(session.id), {"rating": True}, format="json").status_code == 400
    assert not Review.objects.exists()


def test_a_number_as_the_comment_is_400_on_comment(client_for, user, session):
    raw = b'{"rating": 5, "comment": 1e400}'
    response = client_for(user).generic("POST", url(session.id), raw, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"comment"}
    assert not Review.objects.exists()
