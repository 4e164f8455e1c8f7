"""The one shape of a session, shared by REST responses and WebSocket events.

Everything here is JSON-ready (ISO strings for times, strings for credits), so an event payload
can go through any channel layer unchanged.
"""

from datetime import datetime

from django.utils import timezone
from rest_framework import serializers

from .models import Session, TeachingTimer
from .selectors import running_timer_of

_datetime_field = serializers.DateTimeField()


def iso(value: datetime | None) -> str | None:
    return None if value is None else _datetime_field.to_representation(value)


def participant_name(session: Session, user_id: int) -> str:
    return session.user1.name if user_id == session.user1_id else session.user2.name


def total_duration(session: Session, *, now: datetime | None = None) -> int:
    """Wall-clock seconds from acceptance to the end (or to now while active)."""
    if session.start_time is None:
        return 0
    end = session.end_time or (now or timezone.now())
    return max(0, int((end - session.start_time).total_seconds()))


def timer_representation(session: Session, timer: TeachingTimer) -> dict:
    return {
        "id": timer.pk,
        "teacher": timer.teacher_id,
        "teacher_name": participant_name(session, timer.teacher_id),
        "start_time": iso(timer.start_time),
        "is_running": timer.is_running,
    }


def session_representation(session: Session, *, now: datetime | None = None) -> dict:
    timer = running_timer_of(session)
    return {
        "id": session.pk,
        "user1": session.user1_id,
        "user1_name": session.user1.name,
        "user2": session.user2_id,
        "user2_name": session.user2.name,
        "learning_request": session.learning_request_id,
        "status": session.status,
        "is_active": session.is_active,
        "start_time": iso(session.start_time),
        "end_time": iso(session.end_time),
        "total_duration": total_duration(session, now=now),
        "user1_teaching_time": session.user1_teaching_seconds,
        "user2_teaching_time": session.user2_teaching_seconds,
        "active_timer": timer_representation(session, timer) if timer else None,
    }


def teaching_seconds_of(session: Session, user_id: int) -> int:
    if user_id == session.user1_id:
        return session.user1_teaching_seconds
    return session.user2_teaching_seconds


def timer_started_payload(session: Session, timer: TeachingTimer) -> dict:
    return {
        "teacher_id": timer.teacher_id,
        "teacher_name": participant_name(session, timer.teacher_id),
        "start_time": iso(timer.start_time),
        "timer_id": timer.pk,
    }


def timer_stopped_payload(session: Session, timer: TeachingTimer) -> dict:
    return {
        "teacher_id": timer.teacher_id,
        "teacher_name": participant_name(session, timer.teacher_id),
        "end_time": iso(timer.end_time),
        "duration_seconds": timer.duration_seconds,
        "timer_id": timer.pk,
        "new_total_time": teaching_seconds_of(session, timer.teacher_id),
        "reason": timer.stop_reason,
    }
