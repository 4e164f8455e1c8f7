import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from ledger.selectors import balance_of
from ledger.services import teaching_pay
from tests.conftest import authed_client
from tests.factories import ActiveSessionFactory, CompletedSessionFactory, SessionFactory, UserFactory
from tutoring.models import Session, TeachingTimer
from tutoring.services import timers_sweep

from .conftest import ws

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def room():
    session = await sync_to_async(ActiveSessionFactory)()
    one = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    await one.recv_type("session_state")
    two = await ws(f"/ws/session/{session.pk}/", user=session.user2)
    await two.recv_type("session_state")
    yield session, one, two
    await one.close()
    await two.close()


async def test_session_state_on_connect():
    session = await sync_to_async(ActiveSessionFactory)()
    sock = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    frame = await sock.recv()
    assert frame["type"] == "session_state"
    state = frame["session"]
    assert (state["id"], state["status"], state["user1"], state["user2"]) == (
        session.pk,
        "active",
        session.user1_id,
        session.user2_id,
    )
    assert state["active_timer"] is None
    await sock.close()


async def test_invitee_joining_activates_a_pending_session_and_the_creator_hears_it():
    session = await sync_to_async(SessionFactory)()
    creator = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    assert (await creator.recv())["session"]["status"] == "pending"
    invitee = await ws(f"/ws/session/{session.pk}/", user=session.user2)
    assert (await invitee.recv())["session"]["status"] == "active"
    update = await creator.recv_type("session_state")
    assert update["session"]["status"] == "active"
    await sync_to_async(session.refresh_from_db)()
    assert session.status == Session.Status.ACTIVE
    await creator.close()
    await invitee.close()


async def test_a_pending_session_is_unfinished_but_runs_no_timer_until_accepted():
    session = await sync_to_async(SessionFactory)()
    creator = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    state = (await creator.recv())["session"]
    # The original client reads is_active false as "ended"; the invitation is not ended.
    assert (state["status"], state["is_active"], state["accepted_at"]) == ("pending", True, None)
    assert state["start_time"] is not None
    await creator.send({"type": "timer_start"})
    error = await creator.recv()
    assert (error["type"], error["code"]) == ("error", 409)
    assert not await sync_to_async(session.timers.exists)()
    await creator.close()


async def test_creator_connecting_does_not_accept_for_the_invitee():
    session = await sync_to_async(SessionFactory)()
    creator = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    await creator.recv()
    await sync_to_async(session.refresh_from_db)()
    assert session.status == Session.Status.PENDING
    await creator.close()


async def test_timer_start_and_stop_over_the_socket_reach_both(room):
    session, one, two = room
    await one.send({"type": "timer_start"})
    for sock in (one, two):
        started = await sock.recv_type("timer_started")
        assert started["teacher_id"] == session.user1_id
        assert started["teacher_name"] == session.user1.name
        assert started["timer_id"]
        assert started["start_time"]
    await one.send({"type": "timer_stop"})
    for sock in (one, two):
        stopped = await sock.recv_type("timer_stopped")
        assert stopped["teacher_id"] == session.user1_id
        assert set(stopped) >= {"end_time", "duration_seconds", "timer_id", "new_total_time"}


async def test_service_rules_come_back_as_error_frames(room):
    _, one, two = room
    await one.send({"type": "timer_start"})
    await two.recv_type("timer_started")
    await two.send({"type": "timer_start"})
    assert await two.recv_type("error") == {
        "type": "error",
        "message": "The other participant's timer is running.",
        "code": 409,
    }
    await two.send({"type": "timer_stop"})
    assert (await two.recv_type("error"))["code"] == 403


async def test_stopping_when_no_timer_runs_is_an_error_frame(room):
    _, one, two = room
    await one.send({"type": "timer_stop"})
    assert (await one.recv_type("error"))["code"] == 409
    assert await two.silent()


async def test_rest_timer_start_reaches_the_sockets(room):
    session, one, two = room

    def start_over_rest():
        return authed_client(session.user2).post(f"/api/sessions/{session.pk}/timer/start/")

    response = await sync_to_async(start_over_rest)()
    assert response.status_code == 201
    assert (await one.recv_type("timer_started"))["teacher_id"] == session.user2_id
    assert (await two.recv_type("timer_started"))["teacher_id"] == session.user2_id


async def test_session_ended_carries_each_receivers_own_credits(room):
    session, one, two = room
    # An earlier lesson elsewhere leaves them with different balances, so a consumer sending
    # one balance to both sockets cannot pass.
    earlier = await sync_to_async(CompletedSessionFactory)(user1=session.user1, user2=session.user2)
    await sync_to_async(teaching_pay)(
        learner=session.user2, teacher=session.user1, seconds=600, session_id=earlier.pk
    )
    await sync_to_async(TeachingTimer.objects.create)(
        session=session, teacher=session.user1, start_time=session.accepted_at
    )
    await one.send({"type": "end_session"})
    ended_one = await one.recv_type("session_ended")
    ended_two = await two.recv_type("session_ended")
    credits_one = str(await sync_to_async(balance_of)(user=session.user1))
    credits_two = str(await sync_to_async(balance_of)(user=session.user2))
    assert credits_one != credits_two
    assert ended_one["your_credits"] == credits_one
    assert ended_two["your_credits"] == credits_two
    assert ended_one["ended_by"] == session.user1_id
    assert ended_one["credit_summary"] == ended_two["credit_summary"]
    assert set(ended_one["credit_summary"]) == {"user1", "user2", "bank_cut"}
    await sync_to_async(session.refresh_from_db)()
    assert session.status == Session.Status.COMPLETED


async def test_credit_update_goes_only_to_its_owner(room):
    session, one, two = room
    await two.send({"type": "end_session"})
    update = await one.recv_type("credit_update")
    assert update["user_id"] == session.user1_id
    assert update["new_balance"] == str(await sync_to_async(balance_of)(user=session.user1))
    update = await two.recv_type("credit_update")
    assert update["user_id"] == session.user2_id
    assert await one.silent()


async def test_ending_twice_is_an_error_frame(room):
    _, one, two = room
    await one.send({"type": "end_session"})
    await one.recv_type("session_ended")
    await two.send({"type": "end_session"})
    assert (await two.recv_type("error"))["code"] == 409


async def test_get_credits(room):
    session, one, _ = room
    await one.send({"type": "get_credits"})
    assert await one.recv() == {"type": "credit_balance", "credits": "15.00"}


@pytest.mark.parametrize(
    ("frame", "key"),
    [
        ({"type": "signal", "payload": {"sdp": "offer"}}, "payload"),
        ({"type": "whiteboard_update", "data": {"strokes": [1, 2]}}, "data"),
        ({"type": "code_update", "data": "print('hi')"}, "data"),
    ],
    ids=["signal", "whiteboard", "code"],
)
async def test_relays_reach_only_the_other_participant(room, frame, key):
    session, one, two = room
    await one.send(frame)
    assert await two.recv() == {"type": frame["type"], key: frame[key], "from": session.user1_id}
    assert await one.silent()


async def test_outsider_cannot_even_join_a_pending_session():
    session = await sync_to_async(SessionFactory)()
    outsider = await sync_to_async(UserFactory)()
    sock = await ws(f"/ws/session/{session.pk}/", user=outsider)
    assert await sock.close_code() == 4003
    await sync_to_async(session.refresh_from_db)()
    assert session.status == Session.Status.PENDING


@pytest.mark.parametrize("teaching_seconds", [1.5, 3.5])
async def test_a_teacher_who_closes_the_socket_is_credited_up_to_the_moment_they_left(teaching_seconds):
    # The touch at close used to be skipped like any touch within 5 s of the last one, so the
    # credited end fell back to the connect: a short lesson was worth 0 s.
    session = await sync_to_async(ActiveSessionFactory)()
    teacher = await ws(f"/ws/session/{session.pk}/", user=session.user1)
    await teacher.recv_type("session_state")
    await teacher.send({"type": "timer_start"})
    await teacher.recv_type("timer_started")
    await asyncio.sleep(teaching_seconds)
    before_close = timezone.now()
    await teacher.close()
    after_close = timezone.now()

    # Nobody stops the timer; once the grace period has passed, the sweep judges it.
    later = after_close + settings.TIMER_DISCONNECT_GRACE + timedelta(seconds=1)
    (timer,) = await sync_to_async(timers_sweep)(now=later)
    assert timer.stop_reason == TeachingTimer.StopReason.TEACHER_ABSENT
    assert before_close <= timer.end_time <= after_close
    assert timer.duration_seconds == int((timer.end_time - timer.start_time).total_seconds())
    assert timer.duration_seconds >= int(teaching_seconds)
