import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import ChatMessage
from tests.factories import ActiveSessionFactory, UserFactory
from tutoring.models import Session


def url(session_id):
    return f"/api/sessions/{session_id}/messages/"


@pytest.fixture
def session(db):
    return ActiveSessionFactory()


def post(session, sender, text):
    return ChatMessage.objects.create(session=session, sender=sender, text=text)


def test_participants_read_history_oldest_first(client_for, session):
    first = post(session, session.user1, "hello")
    post(session, session.user2, "hi back")
    response = client_for(session.user2).get(url(session.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [m["message"] for m in body["results"]] == ["hello", "hi back"]
    assert body["results"][0] == {
        "id": first.id,
        "sender": session.user1.name,
        "sender_id": session.user1_id,
        "message": "hello",
        "timestamp": first.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_after_returns_only_newer_messages(client_for, session):
    first = post(session, session.user1, "one")
    post(session, session.user1, "two")
    post(session, session.user2, "three")
    body = client_for(session.user1).get(url(session.pk), {"after": first.id}).json()
    assert [m["message"] for m in body["results"]] == ["two", "three"]


@pytest.mark.parametrize("after", ["abc", "1.5", "-1"])
def test_after_must_be_an_integer_id(client_for, session, after):
    response = client_for(session.user1).get(url(session.pk), {"after": after})
    assert response.status_code == 400
    assert "after" in response.json()["detail"]


def test_outsider_gets_404(client_for, session):
    post(session, session.user1, "private")
    assert client_for(UserFactory()).get(url(session.pk)).status_code == 404


def test_unknown_session_gets_404(client_for, user):
    assert client_for(user).get(url(987654)).status_code == 404


def test_needs_authentication(api_client, session):
    assert api_client.get(url(session.pk)).status_code == 401


def test_history_stays_readable_after_the_session_ends(client_for, session):
    post(session, session.user1, "bye")
    Session.objects.filter(pk=session.pk).update(status=Session.Status.COMPLETED)
    assert client_for(session.user1).get(url(session.pk)).json()["count"] == 1


def test_only_this_sessions_messages(client_for, session):
    other = ActiveSessionFactory(user1=session.user1)
    post(other, session.user1, "elsewhere")
    assert client_for(session.user1).get(url(session.pk)).json()["count"] == 0


def test_query_count_does_not_grow_with_messages(client_for, session):
    client = client_for(session.user1)

    def queries_for_history():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(session.pk))
        assert response.status_code == 200
        return len(queries), response.json()["count"]

    post(session, session.user1, "first")
    queries_for_history()  # the first request of a participant also records their attendance
    one = queries_for_history()
    for i in range(15):
        post(session, session.user1 if i % 2 else session.user2, f"m{i}")
    many = queries_for_history()
    assert (one[1], many[1]) == (1, 16)
    assert one[0] == many[0]
