"""Sessions and teaching timers: every rule of SPEC section 6 that changes something.

Each service is one transaction that starts by locking the session row, so whatever reaches a
session at the same moment (two tabs, REST and a socket, two server processes, the runaway sweep)
queues up behind that lock and sees the state the previous one committed. Events go out after
commit through common.events.publish; REST views and WebSocket consumers call these functions
and only translate input and errors.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import Conflict, Forbidden, Invalid, NotFound
from common.events import publish, session_group
from learning.models import LearningPost
from ledger.rates import ZERO, money
from ledger.selectors import balance_of
from ledger.services import TeachingPayment, teaching_pay

from .models import Attendance, Session, TeachingTimer
from .representations import session_representation, timer_started_payload, timer_stopped_payload
from .selectors import last_seen_of, running_timer_of
from .timing import seconds_between, timer_effective_end

# A participant seen this recently is not written again: presence is polled on every request.
# Never more than a quarter of the grace period, so a short grace can't outrun a polling client.
ATTENDANCE_TOUCH_INTERVAL = timedelta(seconds=5)


def _touch_interval() -> timedelta:
    return min(ATTENDANCE_TOUCH_INTERVAL, settings.TIMER_DISCONNECT_GRACE / 4)


DECISIONS = ("accept", "reject")


# --- helpers --------------------------------------------------------------------------------


def _locked_session(*, session_id, user_id: int) -> Session:
    """Lock and return the session if `user_id` takes part in it; NotFound otherwise."""
    try:
        session = (
            Session.objects.select_for_update(of=("self",))
            .select_related("user1", "user2")
            .filter(Q(user1_id=user_id) | Q(user2_id=user_id), pk=session_id)
            .first()
        )
    except (ValueError, TypeError):
        session = None
    if session is None:
        raise NotFound("Session not found.")
    return session


def _effective_end(timer: TeachingTimer, *, now: datetime):
    return timer_effective_end(
        start=timer.start_time,
        now=now,
        last_seen=last_seen_of(session_id=timer.session_id, user_id=timer.teacher_id),
        grace=settings.TIMER_DISCONNECT_GRACE,
        max_seconds=settings.TIMER_MAX_SECONDS,
    )


def _stop_timer(session: Session, timer: TeachingTimer, *, now: datetime, reason: str) -> TeachingTimer:
    """Stop `timer` at its effective end and credit its teacher. Caller holds the session lock.

    `reason` applies when the timer was still legitimately running; an overdue timer keeps the
    reason it became overdue for (the teacher left, or it hit the cap).
    """
    effective = _effective_end(timer, now=now)
    timer.end_time = effective.end
    timer.duration_seconds = seconds_between(timer.start_time, effective.end)
    timer.stop_reason = effective.reason or reason
    timer.save(update_fields=["end_time", "duration_seconds", "stop_reason"])
    session.add_teaching_seconds(timer.teacher_id, timer.duration_seconds)
    publish(session_group(session.pk), "timer_stopped", timer_stopped_payload(session, timer))
    return timer


def _publish_state(session: Session, *, now: datetime) -> None:
    """Publish the state of a session in which, at these points, no timer can be running."""
    state = session_representation(session, now=now, running_timer=None)
    publish(session_group(session.pk), "session_state", {"session": state})


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
        try:
            with transaction.atomic():
                session = Session.objects.create(
                    user1=creator, user2=invitee, learning_request_id=learning_request_id
                )
        except IntegrityError:
            # The conditional unique constraint on pair_key is the check itself, so two
            # invitations racing each other cannot both get through.
            raise Conflict("You already have an unfinished session with this user.") from None
        _publish_state(session, now=now)
    return session


def session_respond(*, session_id, user, decision) -> Session:
    """The invitee accepts (pending → active) or rejects (pending → rejected) the session."""
    now = timezone.now()
    with transaction.atomic():
        session = _locked_session(session_id=session_id, user_id=user.pk)
        if decision not in DECISIONS:
            raise Invalid('decision must be "accept" or "reject".', field="decision")
        if user.pk != session.user2_id:
            raise Forbidden("Only the invited participant can respond.")
        if session.status != Session.Status.PENDING:
            raise Conflict(f"The session is {session.status}, not pending.")
        if decision == "accept":
            session.status = Session.Status.ACTIVE
            session.start_time = now
        else:
            session.status = Session.Status.REJECTED
            session.end_time = now
        session.save(update_fields=["status", "start_time", "end_time"])
        _publish_state(session, now=now)
    return session


def session_join(*, session_id, user) -> Session:
    """The invitee entering the session room accepts a pending invitation; otherwise nothing."""
    now = timezone.now()
    with transaction.atomic():
        session = _locked_session(session_id=session_id, user_id=user.pk)
        if user.pk == session.user2_id and session.status == Session.Status.PENDING:
            session.status = Session.Status.ACTIVE
            session.start_time = now
            session.save(update_fields=["status", "start_time"])
            _publish_state(session, now=now)
    return session


# --- timers ---------------------------------------------------------------------------------


def timer_start(*, session_id, user, now: datetime | None = None) -> TeachingTimer:
    """Start the caller's teaching timer; one timer runs at a time per session."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_session(session_id=session_id, user_id=user.pk)
        if session.status != Session.Status.ACTIVE:
            raise Conflict(f"Timers run only in an active session; this one is {session.status}.")
        running = running_timer_of(session)
        if running is not None and _effective_end(running, now=now).overdue:
            # Its teacher left (or it hit the cap) and no sweep has run yet: it has already
            # ended in fact, so it must not block the other participant.
            _stop_timer(session, running, now=now, reason=TeachingTimer.StopReason.STOPPED)
            running = None
        if running is not None:
            if running.teacher_id == user.pk:
                raise Conflict("Your timer is already running.")
            raise Conflict("The other participant's timer is running.")
        try:
            with transaction.atomic():
                timer = TeachingTimer.objects.create(session=session, teacher=user, start_time=now)
        except IntegrityError:
            raise Conflict("A timer is already running in this session.") from None
        publish(session_group(session.pk), "timer_started", timer_started_payload(session, timer))
    return timer


def timer_stop(*, session_id, user, now: datetime | None = None) -> TeachingTimer:
    """Stop the caller's running timer and add its time to what they taught."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_session(session_id=session_id, user_id=user.pk)
        running = running_timer_of(session)
        if running is None:
            raise Conflict("No timer is running.")
        if running.teacher_id != user.pk:
            raise Forbidden("The running timer is the other participant's.")
        return _stop_timer(session, running, now=now, reason=TeachingTimer.StopReason.STOPPED)


# --- ending and settling --------------------------------------------------------------------


@dataclass(frozen=True)
class SessionEnd:
    session: Session
    credit_summary: dict


_NOTHING = TeachingPayment(owed=ZERO, paid=ZERO, cut=ZERO, shortfall=ZERO, teacher_received=ZERO)


def _credits(amount) -> str:
    return str(money(amount))


def _participant_summary(session, user, *, taught: TeachingPayment, learned: TeachingPayment) -> dict:
    return {
        "id": user.pk,
        "name": user.name,
        "teaching_seconds": session.teaching_seconds_of(user.pk),
        "credits_earned": _credits(taught.teacher_received),
        "credits_spent": _credits(learned.paid),
        "shortfall": _credits(learned.shortfall),
    }


def _credit_summary(session: Session, *, by_user1: TeachingPayment, by_user2: TeachingPayment) -> dict:
    """`by_user1` is the payment for user1's teaching (paid by user2), and vice versa."""
    return {
        "user1": _participant_summary(session, session.user1, taught=by_user1, learned=by_user2),
        "user2": _participant_summary(session, session.user2, taught=by_user2, learned=by_user1),
        "bank_cut": _credits(by_user1.cut + by_user2.cut),
    }


def _settle(session: Session, *, now: datetime) -> dict:
    """Pay each participant for their teaching, once, and return the credit summary."""
    u1, u2 = session.user1, session.user2
    directions = [
        (u1, u2, session.teaching_seconds_of(u1.pk)),  # (teacher, learner, seconds)
        (u2, u1, session.teaching_seconds_of(u2.pk)),
    ]
    # When both taught and one cannot cover what they owe, letting the better-funded learner
    # pay first gives the other the credits to pay back: less shortfall, same ledger rules.
    directions.sort(key=lambda d: balance_of(user=d[1]), reverse=True)
    payments = {}
    for teacher, learner, seconds in directions:
        payments[teacher.pk] = (
            teaching_pay(learner=learner, teacher=teacher, seconds=seconds, session_id=session.pk, now=now)
            if seconds > 0
            else _NOTHING
        )
    return _credit_summary(session, by_user1=payments[u1.pk], by_user2=payments[u2.pk])


def session_end(*, session_id, user, now: datetime | None = None) -> SessionEnd:
    """End the session: stop the running timer, settle both directions once, mark it completed.

    A pending session that either participant ends is called off instead: it becomes rejected,
    nothing is charged (no timer could have run). Ending an ended session is a Conflict and moves
    no credits.
    """
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_session(session_id=session_id, user_id=user.pk)
        if session.status == Session.Status.PENDING:
            summary = _credit_summary(session, by_user1=_NOTHING, by_user2=_NOTHING)
            session.status = Session.Status.REJECTED
        elif session.status == Session.Status.ACTIVE:
            running = running_timer_of(session)
            if running is not None:
                _stop_timer(session, running, now=now, reason=TeachingTimer.StopReason.SESSION_ENDED)
            summary = _settle(session, now=now)
            session.status = Session.Status.COMPLETED
        else:
            raise Conflict(f"The session has already ended ({session.status}).")
        session.end_time = now
        session.credit_summary = summary
        session.save(update_fields=["status", "end_time", "credit_summary"])
        group = session_group(session.pk)
        publish(group, "session_ended", {"ended_by": user.pk, "credit_summary": summary})
        if session.status == Session.Status.COMPLETED:
            for participant in (session.user1, session.user2):
                balance = _credits(balance_of(user=participant))
                publish(group, "credit_update", {"user_id": participant.pk, "new_balance": balance})
    return SessionEnd(session=session, credit_summary=summary)


# --- presence and runaway timers ------------------------------------------------------------


def attendance_touch(*, session_id, user_id, now: datetime | None = None) -> None:
    """Record that a participant is present in the session now (socket activity or a request).

    Cheap on the hot path: one read when the participant was seen in the last few seconds.
    Anyone who is not a participant is ignored. When the participant comes back after being
    away longer than the grace period, their timer is judged first, so returning cannot turn
    the absence into paid time.
    """
    now = now or timezone.now()
    with transaction.atomic():
        last_seen = last_seen_of(session_id=session_id, user_id=user_id)
        if last_seen is not None and last_seen >= now - _touch_interval():
            return
        if last_seen is None and not _is_participant(session_id=session_id, user_id=user_id):
            return
        if last_seen is None or now - last_seen > settings.TIMER_DISCONNECT_GRACE:
            timers_sweep(now=now, session_id=session_id)
        if last_seen is None:
            try:
                with transaction.atomic():
                    Attendance.objects.create(session_id=session_id, user_id=user_id, last_seen_at=now)
                return
            except IntegrityError:  # a concurrent touch created it; fall through to update
                pass
        # `lt` keeps the newest time when two processes touch at once.
        Attendance.objects.filter(session_id=session_id, user_id=user_id, last_seen_at__lt=now).update(
            last_seen_at=now
        )


def _is_participant(*, session_id, user_id) -> bool:
    return Session.objects.filter(Q(user1_id=user_id) | Q(user2_id=user_id), pk=session_id).exists()


def timers_sweep(*, now: datetime | None = None, session_id: int | None = None) -> list[TeachingTimer]:
    """Stop every running timer whose teacher left more than the grace period ago or that ran
    past the cap, crediting time only up to the moment that happened.

    Each timer is stopped in its own transaction under its session's lock, taken with
    SKIP LOCKED: a session another process is working on right now is left to that process
    (or the next sweep), so any number of processes may sweep at once.
    """
    now = now or timezone.now()
    earliest_due = now - min(settings.TIMER_DISCONNECT_GRACE, timedelta(seconds=settings.TIMER_MAX_SECONDS))
    candidates = TeachingTimer.objects.filter(end_time__isnull=True, start_time__lt=earliest_due)
    if session_id is not None:
        candidates = candidates.filter(session_id=session_id)
    stopped = []
    for timer_id, timer_session_id in candidates.values_list("pk", "session_id"):
        with transaction.atomic():
            session = (
                Session.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("user1", "user2")
                .filter(pk=timer_session_id)
                .first()
            )
            if session is None:
                continue
            timer = TeachingTimer.objects.filter(pk=timer_id, end_time__isnull=True).first()
            if timer is None or not _effective_end(timer, now=now).overdue:
                continue
            stopped.append(_stop_timer(session, timer, now=now, reason=TeachingTimer.StopReason.STOPPED))
    return stopped
