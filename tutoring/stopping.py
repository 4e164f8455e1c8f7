"""Stopping a teaching timer: the one path that ends a timer and credits its teacher.

Shared by the services (stop, start over an overdue timer, end) and the runaway sweep.
"""

from datetime import datetime

from django.conf import settings

from common.events import publish, session_group

from .models import Session, TeachingTimer
from .representations import timer_stopped_payload
from .selectors import last_seen_of
from .timing import EffectiveEnd, seconds_between, timer_effective_end


def effective_end(timer: TeachingTimer, *, now: datetime) -> EffectiveEnd:
    return timer_effective_end(
        start=timer.start_time,
        now=now,
        last_seen=last_seen_of(session_id=timer.session_id, user_id=timer.teacher_id),
        grace=settings.TIMER_DISCONNECT_GRACE,
        max_seconds=settings.TIMER_MAX_SECONDS,
    )


def stop_timer(session: Session, timer: TeachingTimer, *, now: datetime, reason: str) -> TeachingTimer:
    """Stop `timer` at its effective end and credit its teacher. Caller holds the session lock.

    `reason` applies when the timer was still legitimately running; an overdue timer keeps the
    reason it became overdue for (the teacher left, or it hit the cap).
    """
    effective = effective_end(timer, now=now)
    timer.end_time = effective.end
    timer.duration_seconds = seconds_between(timer.start_time, effective.end)
    timer.stop_reason = effective.reason or reason
    timer.save(update_fields=["end_time", "duration_seconds", "stop_reason"])
    session.add_teaching_seconds(timer.teacher_id, timer.duration_seconds)
    publish(session_group(session.pk), "timer_stopped", timer_stopped_payload(session, timer))
    return timer
