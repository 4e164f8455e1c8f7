"""Sessions and teaching timers: every rule of SPEC section 6 that changes something.

Each service is one transaction that starts by locking the session row, so whatever reaches a
session at the same moment (two tabs, REST and a socket, two server processes, the runaway sweep)
queues up behind that lock and sees the state the previous one committed. Events go out after
commit through common.events.publish; REST views and WebSocket consumers call these functions
and only translate input and errors.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import Conflict, Forbidden, Invalid
from common.events import presence_user_group, publish, session_group
from learning.models import LearningPost
from ledger.rates import format_credits
from ledger.selectors import balance_of

# Re-exported: realtime and the middleware reach them through tutoring.services.
from .attendance import attendance_touch as attendance_touch
from .attendance import timers_sweep as timers_sweep
from .models import Session, TeachingTimer
from .representations import session_representation, timer_started_payload
from .selectors import running_timer_of, session_locked_for_participant
from .settlement import NOTHING, credit_summary, settle
from .stopping import effective_end, stop_timer

DECISIONS = ("accept", "reject")


# --- helpers --------------------------------------------------------------------------------


def _publish_state(session: Session, *, now: datetime) -> dict:
    """Publish the state of a session in which, at these points, no timer can be running."""
    state = session_representation(session, now=now, running_timer=None)
    publish(session_group(session.pk), "session_state", {"session": state})
    return state


def _publish_response(session: Session, *, decided_by: int, state: dict) -> None:
    """Tell the other participant's presence sockets that a pending session was answered
    (accepted, rejected or called off), so nobody polls for the fate of an invitation."""
    other = session.other_participant_id(decided_by)
    publish(presence_user_group(other), "session_response", {"session": state})


# --- sessions -------------------------------------------------------------------------------


def session_create(*, creator, invitee_id, learning_request_id=None) -> Session:
    """Invite `invitee_id` to a session; it stays pending until they accept."""
    now = timezone.now()
    User = get_user_model()
    try:
        invitee = User.objects.filter(pk=invitee_id, is_active=True).first()
    except (ValueError, TypeError):
        invitee = None
    if invitee is None:
        raise Invalid("Unknown user.", field="user2")
    if invitee.pk == creator.pk:
        raise Invalid("You cannot start a session with yourself.")
    if learning_request_id is not None:
        try:
            post = LearningPost.objects.filter(pk=learning_request_id).first()
        except (ValueError, TypeError):
            post = None
        if post is None:
            raise Invalid("Unknown learning request.", field="learning_request")
        if post.creator_id not in (creator.pk, invitee.pk):
            raise Invalid(
                "The learning request must be a post of one of the two participants.",
                field="learning_request",
            )
    with transaction.atomic():
        # Both accounts locked and still active: an account being deleted (which holds its row
        # lock while it ends its sessions) can't be invited into a new one behind its back.
        locked = User.objects.select_for_update(no_key=True).filter(
            pk__in=(creator.pk, invitee.pk), is_active=True
        )
        if len(locked.order_by("pk").values_list("pk", flat=True)) != 2:
            raise Invalid("Unknown user.", field="user2")
        try:
            # No savepoint needed: a failed INSERT raises Conflict at once and the whole
            # transaction rolls back; nothing runs in it afterwards.
            session = Session.objects.create(
                user1=creator, user2=invitee, learning_request_id=learning_request_id
            )
        except IntegrityError:
            # The conditional unique constraint on pair_key is the check itself, so two
            # invitations racing each other cannot both get through.
            raise Conflict("You already have an unfinished session with this user.") from None
        state = _publish_state(session, now=now)
        publish(presence_user_group(invitee.pk), "session_invitation", {"session": state})
    return session


def session_respond(*, session_id, user, decision) -> Session:
    """The invitee accepts (pending → active) or rejects (pending → rejected) the session."""
    now = timezone.now()
    with transaction.atomic():
        session = session_locked_for_participant(session_id=session_id, user=user)
        if decision not in DECISIONS:
            raise Invalid('decision must be "accept" or "reject".', field="decision")
        if user.pk != session.user2_id:
            raise Forbidden("Only the invited participant can respond.")
        if session.status != Session.Status.PENDING:
            raise Conflict(f"The session is {session.status}, not pending.")
        if decision == "accept":
            session.status = Session.Status.ACTIVE
            session.accepted_at = now
        else:
            session.status = Session.Status.REJECTED
            session.end_time = now
        session.save(update_fields=["status", "accepted_at", "end_time"])
        state = _publish_state(session, now=now)
        _publish_response(session, decided_by=user.pk, state=state)
    return session


def session_join(*, session_id, user) -> Session:
    """The invitee entering the session room accepts a pending invitation; otherwise nothing."""
    now = timezone.now()
    with transaction.atomic():
        session = session_locked_for_participant(session_id=session_id, user=user)
        if user.pk == session.user2_id and session.status == Session.Status.PENDING:
            session.status = Session.Status.ACTIVE
            session.accepted_at = now
            session.save(update_fields=["status", "accepted_at"])
            state = _publish_state(session, now=now)
            _publish_response(session, decided_by=user.pk, state=state)
    return session


# --- timers ---------------------------------------------------------------------------------


def timer_start(*, session_id, user, now: datetime | None = None) -> TeachingTimer:
    """Start the caller's teaching timer; one timer runs at a time per session."""
    now = now or timezone.now()
    with transaction.atomic():
        session = session_locked_for_participant(session_id=session_id, user=user)
        if session.status != Session.Status.ACTIVE:
            raise Conflict(f"Timers run only in an active session; this one is {session.status}.")
        running = running_timer_of(session)
        if running is not None and effective_end(running, now=now).overdue:
            # Its teacher left (or it hit the cap) and no sweep has run yet: it has already
            # ended in fact, so it must not block the other participant.
            stop_timer(session, running, now=now, reason=TeachingTimer.StopReason.STOPPED)
            running = None
        if running is not None:
            if running.teacher_id == user.pk:
                raise Conflict("Your timer is already running.")
            raise Conflict("The other participant's timer is running.")
        try:
            # As in session_create: the Conflict rolls back the whole transaction.
            timer = TeachingTimer.objects.create(session=session, teacher=user, start_time=now)
        except IntegrityError:
            raise Conflict("A timer is already running in this session.") from None
        publish(session_group(session.pk), "timer_started", timer_started_payload(session, timer))
    return timer


def timer_stop(*, session_id, user, now: datetime | None = None) -> TeachingTimer:
    """Stop the caller's running timer and add its time to what they taught."""
    now = now or timezone.now()
    with transaction.atomic():
        session = session_locked_for_participant(session_id=session_id, user=user)
        running = running_timer_of(session)
        if running is None:
            raise Conflict("No timer is running.")
        if running.teacher_id != user.pk:
            raise Forbidden("The running timer is the other participant's.")
        return stop_timer(session, running, now=now, reason=TeachingTimer.StopReason.STOPPED)


# --- ending and settling --------------------------------------------------------------------


@dataclass(frozen=True)
class SessionEnd:
    session: Session
    credit_summary: dict


def session_end(*, session_id, user, now: datetime | None = None) -> SessionEnd:
    """End the session: stop the running timer, settle both directions once, mark it completed.

    A pending session that either participant ends is called off instead: it becomes rejected,
    nothing is charged (no timer could have run). Ending an ended session is a Conflict and moves
    no credits.
    """
    now = now or timezone.now()
    with transaction.atomic():
        session = session_locked_for_participant(session_id=session_id, user=user)
        if session.status == Session.Status.PENDING:
            summary = credit_summary(session, by_user1=NOTHING, by_user2=NOTHING)
            session.status = Session.Status.REJECTED
        elif session.status == Session.Status.ACTIVE:
            running = running_timer_of(session)
            if running is not None:
                stop_timer(session, running, now=now, reason=TeachingTimer.StopReason.SESSION_ENDED)
            summary = settle(session, now=now)
            session.status = Session.Status.COMPLETED
        else:
            raise Conflict(f"The session has already ended ({session.status}).")
        session.end_time = now
        session.credit_summary = summary
        session.save(update_fields=["status", "end_time", "credit_summary"])
        group = session_group(session.pk)
        publish(group, "session_ended", {"ended_by": user.pk, "credit_summary": summary})
        if session.status == Session.Status.REJECTED:
            # Calling off a pending session answers the invitation too.
            state = session_representation(session, now=now, running_timer=None)
            _publish_response(session, decided_by=user.pk, state=state)
        if session.status == Session.Status.COMPLETED:
            for participant in (session.user1, session.user2):
                balance = format_credits(balance_of(user=participant))
                publish(group, "credit_update", {"user_id": participant.pk, "new_balance": balance})
    return SessionEnd(session=session, credit_summary=summary)
