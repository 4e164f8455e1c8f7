"""What services announce to the session's WebSocket group (SPEC section 7 payloads)."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from common.errors import Conflict, Forbidden
from common.events import presence_user_group, session_group
from tests.factories import SessionFactory
from tests.tutoring.conftest import stay
from tutoring import services

ISO_T0 = "2026-03-02T09:00:00Z"


@pytest.fixture(autouse=True)
def _in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def heard(django_capture_on_commit_callbacks):
    """heard(session_id, action) runs `action` and returns the events the session group received."""

    def listen(session_id, action):
        async def run():
            layer = get_channel_layer()
            channel = await layer.new_channel()
            await layer.group_add(session_group(session_id), channel)

            def act():
                with django_capture_on_commit_callbacks(execute=True):
                    action()

            await sync_to_async(act)()
            # A marker sent after the action ends the reading; no timeouts, which a frozen clock
            # would stretch forever.
            await layer.send(channel, {"type": "end.of.test"})
            events = []
            while (event := await layer.receive(channel))["type"] != "end.of.test":
                events.append(event)
            return events

        return [{k: v for k, v in e.items() if k != "type"} for e in async_to_sync(run)()]

    return listen


def test_accepting_announces_the_session_state(heard, clock, alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    events = heard(
        session.pk, lambda: services.session_respond(session_id=session.pk, user=bob, decision="accept")
    )
    assert [e["event"] for e in events] == ["session_state"]
    assert events[0]["session"]["status"] == "active"
    assert events[0]["session"]["start_time"] == ISO_T0


def test_joining_as_invitee_announces_the_state_once(heard, alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    assert len(heard(session.pk, lambda: services.session_join(session_id=session.pk, user=bob))) == 1
    assert heard(session.pk, lambda: services.session_join(session_id=session.pk, user=bob)) == []


def test_a_timer_start_and_stop_are_announced(heard, clock, active_session, alice):
    started = heard(active_session.pk, lambda: services.timer_start(session_id=active_session.pk, user=alice))
    timer_id = active_session.timers.get().pk
    assert started == [
        {
            "event": "timer_started",
            "teacher_id": alice.pk,
            "teacher_name": "Alice",
            "start_time": ISO_T0,
            "timer_id": timer_id,
        }
    ]
    stay(clock, active_session, alice, seconds=90)
    stopped = heard(active_session.pk, lambda: services.timer_stop(session_id=active_session.pk, user=alice))
    assert stopped == [
        {
            "event": "timer_stopped",
            "teacher_id": alice.pk,
            "teacher_name": "Alice",
            "end_time": "2026-03-02T09:01:30Z",
            "duration_seconds": 90,
            "timer_id": timer_id,
            "new_total_time": 90,
            "reason": "stopped",
        }
    ]


def test_the_sweep_announces_the_timers_it_stops(heard, clock, active_session, alice):
    services.timer_start(session_id=active_session.pk, user=alice)
    clock.shift(500)
    events = heard(active_session.pk, lambda: services.timers_sweep())
    assert [(e["event"], e["reason"], e["duration_seconds"]) for e in events] == [
        ("timer_stopped", "teacher_absent", 0)
    ]


def test_ending_announces_the_stop_the_end_and_each_new_balance(heard, clock, active_session, alice, bob):
    services.timer_start(session_id=active_session.pk, user=alice)
    stay(clock, active_session, alice, seconds=600)
    events = heard(active_session.pk, lambda: services.session_end(session_id=active_session.pk, user=bob))
    assert [e["event"] for e in events] == [
        "timer_stopped",
        "session_ended",
        "credit_update",
        "credit_update",
    ]
    ended = events[1]
    assert ended["ended_by"] == bob.pk
    assert ended["credit_summary"]["user1"]["credits_earned"] == "1.80"
    balances = {e["user_id"]: e["new_balance"] for e in events[2:]}
    assert balances == {alice.pk: "16.80", bob.pk: "13.00"}


def test_a_refused_action_announces_nothing(heard, clock, active_session, alice, bob):
    services.timer_start(session_id=active_session.pk, user=alice)

    def start_again():
        with pytest.raises(Conflict):
            services.timer_start(session_id=active_session.pk, user=bob)

    assert heard(active_session.pk, start_again) == []


def test_payloads_are_plain_json(heard, clock, active_session, alice, bob):
    import json

    services.timer_start(session_id=active_session.pk, user=alice)
    stay(clock, active_session, alice, seconds=60)
    events = heard(active_session.pk, lambda: services.session_end(session_id=active_session.pk, user=bob))
    assert json.loads(json.dumps(events)) == events


# --- what the participants' presence sockets hear (presence_user_group) -----------------------


def personal(broadcasts) -> list[tuple[str, str, str]]:
    """(group, event, session status) of what went to users' own presence groups."""
    return [
        (group, event, payload["session"]["status"])
        for group, event, payload in broadcasts.events
        if group.startswith("presence.user.")
    ]


def test_an_invitation_goes_to_the_invitee_alone_after_commit(broadcasts, alice, bob):
    with broadcasts.committing():
        session = services.session_create(creator=alice, invitee_id=bob.pk)
    assert personal(broadcasts) == [(presence_user_group(bob.pk), "session_invitation", "pending")]
    invitation = next(p for g, e, p in broadcasts.events if e == "session_invitation")
    assert invitation["session"]["id"] == session.pk
    assert invitation["session"]["is_active"] is True and invitation["session"]["accepted_at"] is None


@pytest.mark.parametrize(("decision", "status"), [("accept", "active"), ("reject", "rejected")])
def test_the_answer_goes_to_the_creator_alone(broadcasts, alice, bob, decision, status):
    session = SessionFactory(user1=alice, user2=bob)
    with broadcasts.committing():
        services.session_respond(session_id=session.pk, user=bob, decision=decision)
    assert personal(broadcasts) == [(presence_user_group(alice.pk), "session_response", status)]


def test_joining_the_room_answers_once_and_only_for_the_invitee(broadcasts, alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    with broadcasts.committing():
        services.session_join(session_id=session.pk, user=alice)  # the creator: no answer
        services.session_join(session_id=session.pk, user=bob)
        services.session_join(session_id=session.pk, user=bob)  # already active: nothing new
    assert personal(broadcasts) == [(presence_user_group(alice.pk), "session_response", "active")]


@pytest.mark.parametrize("who", ["creator", "invitee"])
def test_calling_off_a_pending_session_tells_the_other_participant(broadcasts, alice, bob, who):
    session = SessionFactory(user1=alice, user2=bob)
    caller, other = (alice, bob) if who == "creator" else (bob, alice)
    with broadcasts.committing():
        services.session_end(session_id=session.pk, user=caller)
    assert personal(broadcasts) == [(presence_user_group(other.pk), "session_response", "rejected")]


def test_ending_an_active_session_is_no_answer_to_an_invitation(broadcasts, active_session, bob):
    with broadcasts.committing():
        services.session_end(session_id=active_session.pk, user=bob)
    assert personal(broadcasts) == []


def test_refused_invitations_and_answers_announce_nothing(broadcasts, alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    with broadcasts.committing():
        with pytest.raises(Conflict):
            services.session_create(creator=alice, invitee_id=bob.pk)  # one unfinished per pair
        with pytest.raises(Forbidden):
            services.session_respond(session_id=session.pk, user=alice, decision="accept")
    assert broadcasts.events == []
