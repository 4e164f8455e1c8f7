import pytest

from common.errors import Conflict, NotFound
from tests.factories import SessionFactory, UserFactory
from tests.tutoring.conftest import T0, api, stay, url
from tutoring import services
from tutoring.models import Session, TeachingTimer


def test_starting_a_timer_shows_it_on_the_session(active_session, alice):
    response = api(alice).post(url(active_session, "timer/start/"))
    assert response.status_code == 201
    body = response.json()
    assert body["teacher_id"] == alice.pk and body["teacher_name"] == "Alice"
    timer = body["session"]["active_timer"]
    assert timer["id"] == body["timer_id"] and timer["teacher"] == alice.pk and timer["is_running"] is True


def test_stopping_credits_the_whole_seconds_taught(clock, active_session, alice):
    client = api(alice)
    client.post(url(active_session, "timer/start/"))
    stay(clock, active_session, alice, seconds=600.7)
    response = client.post(url(active_session, "timer/stop/"))
    assert response.status_code == 200
    body = response.json()
    assert body["duration_seconds"] == 600 and body["new_total_time"] == 600
    assert body["session"]["user1_teaching_time"] == 600 and body["session"]["active_timer"] is None


def test_stretches_add_up_per_teacher(clock, active_session, alice, bob):
    for teacher, seconds in [(alice, 100), (bob, 50), (alice, 30)]:
        services.timer_start(session_id=active_session.pk, user=teacher)
        stay(clock, active_session, teacher, seconds=seconds)
        services.timer_stop(session_id=active_session.pk, user=teacher)
    active_session.refresh_from_db()
    assert (active_session.user1_teaching_seconds, active_session.user2_teaching_seconds) == (130, 50)


def test_starting_your_own_timer_twice_is_a_conflict(active_session, alice):
    client = api(alice)
    client.post(url(active_session, "timer/start/"))
    assert client.post(url(active_session, "timer/start/")).status_code == 409
    assert TeachingTimer.objects.count() == 1


def test_starting_while_the_other_timer_runs_is_a_conflict(active_session, alice, bob):
    api(alice).post(url(active_session, "timer/start/"))
    assert api(bob).post(url(active_session, "timer/start/")).status_code == 409
    assert TeachingTimer.objects.get().teacher == alice


@pytest.mark.parametrize("status", ["pending", "completed", "rejected"])
def test_timers_run_only_in_active_sessions(alice, bob, status):
    session = SessionFactory(user1=alice, user2=bob, status=status)
    assert api(alice).post(url(session, "timer/start/")).status_code == 409
    assert api(bob).post(url(session, "timer/start/")).status_code == 409
    assert not TeachingTimer.objects.exists()


def test_stopping_the_other_participants_timer_is_forbidden(clock, active_session, alice, bob):
    api(alice).post(url(active_session, "timer/start/"))
    clock.shift(60)
    assert api(bob).post(url(active_session, "timer/stop/")).status_code == 403
    assert TeachingTimer.objects.get().is_running


def test_stopping_when_no_timer_runs_is_a_conflict(active_session, alice):
    assert api(alice).post(url(active_session, "timer/stop/")).status_code == 409


def test_outsiders_get_404_for_timers(active_session, alice):
    stranger = api(UserFactory())
    api(alice).post(url(active_session, "timer/start/"))
    assert stranger.post(url(active_session, "timer/start/")).status_code == 404
    assert stranger.post(url(active_session, "timer/stop/")).status_code == 404
    assert TeachingTimer.objects.get().is_running


def test_a_teacher_who_went_away_is_credited_until_they_left(clock, active_session, alice):
    client = api(alice)
    client.post(url(active_session, "timer/start/"))
    stay(clock, active_session, alice, seconds=300)
    clock.shift(1000)  # gone without a word, longer than the grace period, then back to stop
    body = client.post(url(active_session, "timer/stop/")).json()
    assert body["duration_seconds"] == 300 and body["reason"] == "teacher_absent"


def test_after_stopping_the_other_participant_may_start(active_session, alice, bob):
    assert api(alice).post(url(active_session, "timer/start/")).status_code == 201
    assert api(alice).post(url(active_session, "timer/stop/")).status_code == 200
    assert api(bob).post(url(active_session, "timer/start/")).status_code == 201


def test_join_by_the_invitee_accepts_a_pending_session(clock, alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    joined = services.session_join(session_id=session.pk, user=bob)
    assert joined.status == Session.Status.ACTIVE and joined.accepted_at == T0


def test_join_by_the_creator_changes_nothing(alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    assert services.session_join(session_id=session.pk, user=alice).status == Session.Status.PENDING


def test_join_by_an_outsider_is_not_found(alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    with pytest.raises(NotFound):
        services.session_join(session_id=session.pk, user=UserFactory())


def test_a_start_that_loses_to_the_one_timer_constraint_is_a_conflict(
    active_session, alice, bob, monkeypatch
):
    # The session lock normally stops a second start first; this reaches the constraint itself,
    # and the database stays usable afterwards (the service's transaction rolled back cleanly).
    TeachingTimer.objects.create(session=active_session, teacher=bob, start_time=active_session.accepted_at)
    monkeypatch.setattr("tutoring.services.running_timer_of", lambda session: None)
    with pytest.raises(Conflict):
        services.timer_start(session_id=active_session.pk, user=alice)
    assert list(TeachingTimer.objects.values_list("teacher_id", flat=True)) == [bob.pk]
