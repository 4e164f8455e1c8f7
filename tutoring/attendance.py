"""Who is in a session right now, and the sweep that stops timers whose teacher left.

A teacher's attendance decides when their running timer really ended (tutoring.timing), so both
live here; tutoring.services re-exports attendance_touch and timers_sweep for its callers.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Attendance, Session, TeachingTimer
from .selectors import last_seen_of, sessions_of
from .stopping import effective_end, stop_timer

# A participant seen this recently is not written again: presence is polled on every request.
# Never more than a quarter of the grace period, so a short grace can't outrun a polling client.
ATTENDANCE_TOUCH_INTERVAL = timedelta(seconds=5)


def _touch_interval() -> timedelta:
    return min(ATTENDANCE_TOUCH_INTERVAL, settings.TIMER_DISCONNECT_GRACE / 4)


def attendance_touch(*, session_id, user_id, now: datetime | None = None, leaving: bool = False) -> None:
    """Record that a participant is present in the session now (socket activity or a request).

    Cheap on the hot path: one read when the participant was seen in the last few seconds.
    `leaving` (a socket closing, or a dead process's connection expiring) is always written: it
    is the last moment of presence, and skipping it would lose up to the touch interval of
    teaching time at every disconnect.
    Anyone who is not a participant is ignored. When the participant comes back after being
    away longer than the grace period, their timer is judged first, so returning cannot turn
    the absence into paid time.
    """
    now = now or timezone.now()
    with transaction.atomic():
        last_seen = last_seen_of(session_id=session_id, user_id=user_id)
        if last_seen is not None and last_seen >= now - _touch_interval() and not leaving:
            return
        if last_seen is None and not sessions_of(user_id).filter(pk=session_id).exists():
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
            if timer is None or not effective_end(timer, now=now).overdue:
                continue
            stopped.append(stop_timer(session, timer, now=now, reason=TeachingTimer.StopReason.STOPPED))
    return stopped
