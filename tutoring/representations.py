"""The one shape of a session, shared by REST responses and WebSocket events.

Everything here is JSON-ready (ISO strings for times, strings for credits), so an event payload
can go through any channel layer unchanged.
"""

from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Session, TeachingTimer
from .selectors import running_timer_of
from .timing import seconds_between


def participant_name(session: Session, user_id: int) -> str:
    return session.user1.name if user_id == session.user1_id else session.user2.name


def total_duration(session: Session, *, now: datetime | None = None) -> int:
    """Wall-clock seconds from acceptance to the end (or to now while active); 0 if never accepted."""
    if session.accepted_at is None:
        return 0
    end = session.end_time or (now or timezone.now())
    return seconds_between(session.accepted_at, end)


class ActiveTimerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    teacher = serializers.IntegerField(source="teacher_id")
    teacher_name = serializers.SerializerMethodField()
    start_time = serializers.DateTimeField()
    is_running = serializers.BooleanField()

    def get_teacher_name(self, timer) -> str:
        return participant_name(timer.session, timer.teacher_id)


class SessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user1 = serializers.IntegerField(source="user1_id")
    user1_name = serializers.CharField(source="user1.name")
    user2 = serializers.IntegerField(source="user2_id")
    user2_name = serializers.CharField(source="user2.name")
    learning_request = serializers.IntegerField(source="learning_request_id", allow_null=True)
    status = serializers.CharField(help_text="pending, active, completed or rejected.")
    is_active = serializers.BooleanField(
        help_text="True while the session is unfinished (pending or active); `status` tells which."
    )
    start_time = serializers.DateTimeField(source="created_at", help_text="When the session was created.")
    accepted_at = serializers.DateTimeField(
        allow_null=True, help_text="When the invitee accepted; null while pending (and if rejected)."
    )
    end_time = serializers.DateTimeField(allow_null=True)
    total_duration = serializers.SerializerMethodField(
        help_text="Seconds from acceptance to the end (or now)."
    )
    user1_teaching_time = serializers.IntegerField(source="user1_teaching_seconds", help_text="Seconds.")
    user2_teaching_time = serializers.IntegerField(source="user2_teaching_seconds", help_text="Seconds.")
    active_timer = serializers.SerializerMethodField()

    def get_total_duration(self, session) -> int:
        return total_duration(session, now=self.context.get("now"))

    @extend_schema_field(ActiveTimerOutput(allow_null=True))
    def get_active_timer(self, session):
        # A caller that knows the running timer (a service that just started or stopped one)
        # passes it; otherwise the selector finds it (from its prefetch when there is one).
        if "running_timer" in self.context:
            timer = self.context["running_timer"]
        else:
            timer = running_timer_of(session)
        if timer is None:
            return None
        timer.session = session  # the teacher's name comes from the already loaded participants
        return dict(ActiveTimerOutput(timer).data)


_LOOK_UP = object()


def session_representation(
    session: Session, *, now: datetime | None = None, running_timer: TeachingTimer | None = _LOOK_UP
) -> dict:
    """The SPEC's session representation, as plain JSON-ready data.

    `running_timer` is the session's running timer (None: none runs) when the caller knows it;
    left out, it is looked up.
    """
    context = {"now": now}
    if running_timer is not _LOOK_UP:
        context["running_timer"] = running_timer
    return dict(SessionOutput(session, context=context).data)


class _TimerEvent(serializers.Serializer):
    """Fields both timer events share; the session being timed comes in the context."""

    teacher_id = serializers.IntegerField()
    teacher_name = serializers.SerializerMethodField()
    timer_id = serializers.IntegerField(source="pk")

    def get_teacher_name(self, timer) -> str:
        return participant_name(self.context["session"], timer.teacher_id)


class TimerStartedEvent(_TimerEvent):
    start_time = serializers.DateTimeField()


class TimerStoppedEvent(_TimerEvent):
    end_time = serializers.DateTimeField()
    duration_seconds = serializers.IntegerField()
    new_total_time = serializers.SerializerMethodField(
        help_text="The teacher's teaching seconds in this session."
    )
    reason = serializers.ChoiceField(source="stop_reason", choices=TeachingTimer.StopReason.choices)

    def get_new_total_time(self, timer) -> int:
        return self.context["session"].teaching_seconds_of(timer.teacher_id)


def timer_started_payload(session: Session, timer: TeachingTimer) -> dict:
    return dict(TimerStartedEvent(timer, context={"session": session}).data)


def timer_stopped_payload(session: Session, timer: TeachingTimer) -> dict:
    return dict(TimerStoppedEvent(timer, context={"session": session}).data)
