from datetime import timedelta

import pytest

from tests.factories import SessionFactory, UserFactory
from tests.tutoring.conftest import T0, api, url
from tutoring.models import Session


@pytest.fixture
def pending(alice, bob):
    return SessionFactory(user1=alice, user2=bob)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_the_invitee_accepts_and_the_session_starts(clock, pending, bob):
    clock.shift(60)
    response = api(bob).post(url(pending, "respond/"), {"decision": "accept"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active" and body["is_active"] is True
    # start_time stays the creation time; the acceptance has its own field, and the duration
    # counts from it.
    assert body["start_time"] == iso(T0)
    assert body["accepted_at"] == iso(T0 + timedelta(seconds=60))
    clock.shift(30)
    assert api(bob).get(url(pending)).json()["total_duration"] == 30


def test_the_invitee_rejects(clock, pending, bob):
    response = api(bob).post(url(pending, "respond/"), {"decision": "reject"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected" and body["is_active"] is False
    assert body["start_time"] == iso(T0) and body["end_time"] == iso(T0)
    assert body["accepted_at"] is None and body["total_duration"] == 0


def test_the_creator_cannot_respond(pending, alice):
    assert api(alice).post(url(pending, "respond/"), {"decision": "accept"}).status_code == 403
    pending.refresh_from_db()
    assert pending.status == Session.Status.PENDING


def test_outsiders_get_404(pending):
    assert api(UserFactory()).post(url(pending, "respond/"), {"decision": "accept"}).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"decision": "maybe"}, {"decision": None}, {"decision": ["accept"]}],
    ids=["missing", "unknown", "null", "list"],
)
def test_a_bad_decision_is_a_400(pending, bob, body):
    response = api(bob).post(url(pending, "respond/"), body, format="json")
    assert response.status_code == 400
    assert "decision" in response.json()
    pending.refresh_from_db()
    assert pending.status == Session.Status.PENDING


@pytest.mark.parametrize("status", ["active", "completed", "rejected"])
def test_responding_to_a_session_that_is_not_pending_is_a_conflict(alice, bob, status):
    session = SessionFactory(user1=alice, user2=bob, status=status)
    assert api(bob).post(url(session, "respond/"), {"decision": "accept"}).status_code == 409
    session.refresh_from_db()
    assert session.status == status


def test_the_service_refuses_a_bad_decision_from_any_caller(pending, bob):
    from common.errors import Invalid
    from tutoring import services

    with pytest.raises(Invalid):
        services.session_respond(session_id=pending.pk, user=bob, decision="ACCEPT")
    pending.refresh_from_db()
    assert pending.status == Session.Status.PENDING


@pytest.mark.parametrize("body", [{}, {"decision": "maybe"}, ["accept"]], ids=["missing", "unknown", "list"])
def test_outsiders_get_404_whatever_the_body(pending, body):
    response = api(UserFactory()).post(url(pending, "respond/"), body, format="json")
    assert response.status_code == 404


def test_a_body_that_is_not_an_object_is_a_400(pending, bob):
    response = api(bob).post(url(pending, "respond/"), ["accept"], format="json")
    assert response.status_code == 400
    assert "decision" in response.json()
