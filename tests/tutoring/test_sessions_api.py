import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import LearningPostFactory, SessionFactory, UserFactory
from tests.tutoring.conftest import T0, api, url
from tutoring.models import Session

ISO_T0 = T0.isoformat().replace("+00:00", "Z")


def test_creating_a_session_invites_the_other_user(clock, alice, bob):
    response = api(alice).post("/api/sessions/", {"user2": bob.pk}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["user1"] == alice.pk and body["user1_name"] == "Alice"
    assert body["user2"] == bob.pk and body["user2_name"] == "Bob"
    # Unfinished, so the original client does not show it as ended; status says it is pending.
    assert body["status"] == "pending" and body["is_active"] is True
    assert body["start_time"] == ISO_T0 and body["accepted_at"] is None and body["end_time"] is None
    assert body["active_timer"] is None and body["total_duration"] == 0
    assert body["user1_teaching_time"] == 0 and body["user2_teaching_time"] == 0


def test_a_session_can_point_at_a_learning_post_of_a_participant(alice, bob):
    post = LearningPostFactory(creator=bob)
    response = api(alice).post("/api/sessions/", {"user2": bob.pk, "learning_request": post.pk})
    assert response.status_code == 201
    assert response.json()["learning_request"] == post.pk


def test_a_learning_post_of_a_stranger_is_refused(alice, bob):
    post = LearningPostFactory()
    response = api(alice).post("/api/sessions/", {"user2": bob.pk, "learning_request": post.pk})
    assert response.status_code == 400
    assert "learning_request" in response.json()
    assert not Session.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "user2"),
        ({"user2": 999999}, "user2"),
        ({"user2": "abc"}, "user2"),
        ({"user2": None}, "user2"),
        ({"user2": "BOB", "learning_request": 999999}, "learning_request"),
        ({"user2": "BOB", "learning_request": "abc"}, "learning_request"),
        ({"user2": "INACTIVE"}, "user2"),
    ],
    ids=[
        "missing",
        "unknown-user",
        "not-an-id",
        "null",
        "unknown-learning-request",
        "learning-request-not-an-id",
        "inactive-invitee",
    ],
)
def test_bad_invitations_are_field_errors(alice, bob, body, field):
    if body.get("user2") == "BOB":
        body = {**body, "user2": bob.pk}
    if body.get("user2") == "INACTIVE":
        inactive = UserFactory()
        inactive.is_active = False
        inactive.save(update_fields=["is_active"])
        body = {**body, "user2": inactive.pk}
    response = api(alice).post("/api/sessions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Session.objects.exists()


def test_a_fractional_user_id_is_refused_not_rounded(alice, bob):
    response = api(alice).post("/api/sessions/", {"user2": bob.pk + 0.5}, format="json")
    assert response.status_code == 400
    assert "user2" in response.json()
    assert not Session.objects.exists()


def test_a_session_with_yourself_is_refused(alice):
    response = api(alice).post("/api/sessions/", {"user2": alice.pk})
    assert response.status_code == 400
    assert not Session.objects.exists()


def test_a_second_unfinished_session_with_the_same_user_is_a_conflict(alice, bob):
    SessionFactory(user1=bob, user2=alice)
    response = api(alice).post("/api/sessions/", {"user2": bob.pk})
    assert response.status_code == 409
    assert Session.objects.count() == 1


def test_a_new_session_is_allowed_once_the_last_one_finished(alice, bob):
    SessionFactory(user1=alice, user2=bob, status=Session.Status.COMPLETED)
    SessionFactory(user1=alice, user2=bob, status=Session.Status.REJECTED)
    assert api(alice).post("/api/sessions/", {"user2": bob.pk}).status_code == 201


def test_sessions_require_a_token(api_client, alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    assert api_client.get("/api/sessions/").status_code == 401
    assert api_client.post("/api/sessions/", {"user2": bob.pk}).status_code == 401
    assert api_client.get(url(session)).status_code == 401
    assert api_client.post(url(session, "end/")).status_code == 401


def test_the_list_holds_only_my_sessions_newest_first(alice, bob):
    carol = UserFactory()
    first = SessionFactory(user1=alice, user2=bob, status=Session.Status.COMPLETED)
    second = SessionFactory(user1=carol, user2=alice)
    SessionFactory(user1=bob, user2=carol)
    body = api(alice).get("/api/sessions/").json()
    assert body["count"] == 2
    assert [s["id"] for s in body["results"]] == [second.pk, first.pk]


def test_the_list_costs_the_same_queries_for_one_and_for_thirty_sessions(alice):
    client = api(alice)

    def queries_for_listing():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/sessions/?page_size=100").status_code == 200
        return len(ctx.captured_queries)

    session = SessionFactory(user1=alice, status=Session.Status.ACTIVE)
    session.timers.create(teacher=alice, start_time=session.created_at)
    one = queries_for_listing()
    for _ in range(29):
        other = SessionFactory(user2=alice, status=Session.Status.ACTIVE)
        other.timers.create(teacher=other.user1, start_time=other.created_at)
    many = queries_for_listing()
    assert one == many
    assert len(client.get("/api/sessions/?page_size=100").json()["results"]) == 30


@pytest.mark.parametrize("sessions", [1, 3, 4])
def test_each_listed_session_shows_its_own_running_timer(alice, sessions):
    """The page's running timers are read for the page's sessions at once (its ids bound into a
    power of two of slots): each session shows its own, a stopped timer shows as none."""
    with_timer = {}
    for i in range(sessions):
        session = SessionFactory(user1=alice, status=Session.Status.ACTIVE)
        if i % 2 == 0:
            session.timers.create(teacher=session.user2, start_time=session.created_at)
            with_timer[session.pk] = session.user2.pk
        else:
            session.timers.create(teacher=alice, start_time=session.created_at, end_time=session.created_at)
    listed = api(alice).get("/api/sessions/").json()["results"]
    assert len(listed) == sessions
    for item in listed:
        timer = item["active_timer"]
        if item["id"] in with_timer:
            assert (timer["teacher"], timer["is_running"]) == (with_timer[item["id"]], True)
        else:
            assert timer is None


def test_participants_see_the_session_and_others_get_404(alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    assert api(alice).get(url(session)).json()["id"] == session.pk
    assert api(bob).get(url(session)).status_code == 200
    assert api(UserFactory()).get(url(session)).status_code == 404
    assert api(alice).get("/api/sessions/999999/").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_sessions_cannot_be_edited_or_deleted_by_anyone(alice, bob, method):
    session = SessionFactory(user1=alice, user2=bob)
    for who in (alice, bob, UserFactory()):
        response = getattr(api(who), method)(url(session), {"status": "completed"}, format="json")
        assert response.status_code == 405
    session.refresh_from_db()
    assert session.status == Session.Status.PENDING


@pytest.mark.parametrize(
    "action",
    ["", "respond/", "timer/start/", "timer/stop/", "end/"],
    ids=["detail", "respond", "timer-start", "timer-stop", "end"],
)
def test_an_absurd_session_id_is_a_404_not_a_crash(alice, action):
    path = f"/api/sessions/99999999999999999999999/{action}"
    client = api(alice)
    response = client.get(path) if not action else client.post(path, {"decision": "accept"})
    assert response.status_code == 404


@pytest.mark.parametrize("invitee_id", [999999, "abc", None])
def test_the_service_refuses_unknown_invitees_from_any_caller(alice, invitee_id):
    from common.errors import Invalid
    from tutoring import services

    with pytest.raises(Invalid):
        services.session_create(creator=alice, invitee_id=invitee_id)
    assert not Session.objects.exists()


def test_the_schema_shows_the_session_shape(api_client, db):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    fields = schema["components"]["schemas"]["SessionOutput"]["properties"]
    assert {"status", "is_active", "start_time", "accepted_at", "end_time", "total_duration"} <= set(fields)
    assert fields["accepted_at"]["nullable"] is True
    assert not fields["start_time"].get("nullable")  # the creation time, always there
    assert "pending" in fields["is_active"]["description"]
