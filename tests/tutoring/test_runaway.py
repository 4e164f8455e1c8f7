"""Timers nobody stops: the teacher's absence and the hard cap (SPEC section 6)."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory
from tests.tutoring.conftest import T0, api, stay, url
from tutoring import services
from tutoring.models import Attendance, TeachingTimer

GRACE = 120


def test_the_sweep_stops_a_timer_whose_teacher_left_at_their_last_sighting(
    clock, active_session, alice, settings
):
    settings.TIMER_DISCONNECT_GRACE = timedelta(seconds=GRACE)
    services.timer_start(session_id=active_session.pk, user=alice)
    stay(clock, active_session, alice, seconds=600)  # last seen at T0 + 600
    clock.shift(GRACE + 1)
    stopped = services.timers_sweep()
    assert [t.pk for t in stopped] == [TeachingTimer.objects.get().pk]
    timer = TeachingTimer.objects.get()
    assert timer.end_time == T0 + timedelta(seconds=600)
    assert (timer.duration_seconds, timer.stop_reason) == (600, "teacher_absent")
    active_session.refresh_from_db()
    assert active_session.user1_teaching_seconds == 600


def test_the_sweep_leaves_a_teacher_within_the_grace_period_alone(clock, active_session, alice):
    services.timer_start(session_id=active_session.pk, user=alice)
    stay(clock, active_session, alice, seconds=600)
    clock.shift(GRACE)
    assert services.timers_sweep() == []
    assert TeachingTimer.objects.get().is_running


def test_a_teacher_polling_the_session_over_rest_keeps_the_timer(clock, active_session, alice):
    client = api(alice)
    client.post(url(active_session, "timer/start/"))
    for _ in range(20):  # 20 minutes of polling every minute
        clock.shift(60)
        assert client.get(url(active_session)).status_code == 200
        services.timers_sweep()
    assert TeachingTimer.objects.get().is_running
    body = client.post(url(active_session, "timer/stop/")).json()
    assert body["duration_seconds"] == 1200 and body["reason"] == "stopped"


def test_a_teacher_polling_every_second_keeps_the_timer_under_a_short_grace(
    clock, active_session, alice, settings
):
    settings.TIMER_DISCONNECT_GRACE = timedelta(seconds=4)
    client = api(alice)
    client.post(url(active_session, "timer/start/"))
    for _ in range(30):
        clock.shift(1)
        assert client.get(url(active_session)).status_code == 200
        services.timers_sweep()
    assert TeachingTimer.objects.get().is_running


def test_the_learner_polling_does_not_keep_an_absent_teachers_timer(clock, active_session, alice, bob):
    services.timer_start(session_id=active_session.pk, user=alice)
    for _ in range(5):
        clock.shift(60)
        api(bob).get(url(active_session))
    services.timers_sweep()
    timer = TeachingTimer.objects.get()
    assert (timer.end_time, timer.stop_reason) == (T0, "teacher_absent")


def test_a_teacher_who_comes_back_is_not_paid_for_the_absence(clock, active_session, alice):
    services.timer_start(session_id=active_session.pk, user=alice)
    stay(clock, active_session, alice, seconds=300)
    clock.shift(3600)  # no sweep ran meanwhile
    api(alice).get(url(active_session))
    timer = TeachingTimer.objects.get()
    assert (timer.duration_seconds, timer.stop_reason) == (300, "teacher_absent")


def test_the_sweep_stops_a_timer_past_the_cap_at_the_cap(clock, active_session, alice, settings):
    settings.TIMER_MAX_SECONDS = 3600
    services.timer_start(session_id=active_session.pk, user=alice)
    stay(clock, active_session, alice, seconds=3600 + 30)
    services.timers_sweep()
    timer = TeachingTimer.objects.get()
    assert (timer.end_time, timer.duration_seconds, timer.stop_reason) == (
        T0 + timedelta(seconds=3600),
        3600,
        "max_duration",
    )


def test_ending_after_the_cap_pays_only_up_to_the_cap(clock, active_session, alice, bob, settings):
    settings.TIMER_MAX_SECONDS = 600
    services.timer_start(session_id=active_session.pk, user=alice)
    stay(clock, active_session, alice, bob, seconds=3000)
    summary = api(bob).post(url(active_session, "end/")).json()["credit_summary"]
    assert summary["user1"]["teaching_seconds"] == 600
    assert summary["user2"]["credits_spent"] == "2.00"
    assert TeachingTimer.objects.get().stop_reason == "max_duration"


def test_the_other_participant_may_start_once_an_absent_teachers_timer_is_over(
    clock, active_session, alice, bob
):
    services.timer_start(session_id=active_session.pk, user=alice)
    clock.shift(GRACE + 60)  # Alice left right after starting; no sweep ran yet
    assert api(bob).post(url(active_session, "timer/start/")).status_code == 201
    alice_timer = TeachingTimer.objects.get(teacher=alice)
    assert (alice_timer.duration_seconds, alice_timer.stop_reason) == (0, "teacher_absent")


def test_the_sweep_stops_each_timer_once(clock, active_session, alice):
    services.timer_start(session_id=active_session.pk, user=alice)
    clock.shift(GRACE + 5)
    assert len(services.timers_sweep()) == 1
    assert services.timers_sweep() == []


def test_attendance_is_written_at_most_every_few_seconds(clock, active_session, alice):
    services.attendance_touch(session_id=active_session.pk, user_id=alice.pk)
    clock.shift(2)
    with CaptureQueriesContext(connection) as ctx:
        services.attendance_touch(session_id=active_session.pk, user_id=alice.pk)
    assert not any(q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT")) for q in ctx.captured_queries)
    assert Attendance.objects.get().last_seen_at == T0
    clock.shift(10)
    services.attendance_touch(session_id=active_session.pk, user_id=alice.pk)
    assert Attendance.objects.get().last_seen_at == T0 + timedelta(seconds=12)


def test_attendance_never_moves_back_in_time(clock, active_session, alice):
    services.attendance_touch(session_id=active_session.pk, user_id=alice.pk, now=T0 + timedelta(seconds=60))
    services.attendance_touch(session_id=active_session.pk, user_id=alice.pk, now=T0)
    assert Attendance.objects.get().last_seen_at == T0 + timedelta(seconds=60)


def test_outsiders_leave_no_attendance(clock, active_session):
    stranger = UserFactory()
    assert api(stranger).get(url(active_session)).status_code == 404
    services.attendance_touch(session_id=active_session.pk, user_id=stranger.pk)
    services.attendance_touch(session_id=999999, user_id=stranger.pk)
    assert not Attendance.objects.exists()


def test_a_failing_attendance_write_does_not_fail_the_request(active_session, alice, monkeypatch):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("database hiccup")

    monkeypatch.setattr("tutoring.middleware.attendance_touch", broken)
    assert api(alice).get(url(active_session)).status_code == 200
    assert len(calls) == 1
