from django.conf import settings
from django.db import models
from django.db.models import Q


class SessionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"


# Module level so Session.Meta's constraint can name it (a nested class can't see Session's body).
UNFINISHED = [SessionStatus.PENDING, SessionStatus.ACTIVE]


class Session(models.Model):
    """A live learning session between its creator (user1) and the invited user2."""

    Status = SessionStatus
    UNFINISHED = UNFINISHED

    user1 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_sessions"
    )
    user2 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invited_sessions"
    )
    learning_request = models.ForeignKey(
        "learning.LearningPost", null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    # "smaller_id:larger_id", so "one unfinished session per pair" is a plain unique constraint.
    pair_key = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Shown as `start_time` (SPEC section 6): the original client dates a session by it.
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    user1_teaching_seconds = models.PositiveIntegerField(default=0)
    user2_teaching_seconds = models.PositiveIntegerField(default=0)
    credit_summary = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["pair_key"],
                condition=Q(status__in=UNFINISHED),
                name="one_unfinished_session_per_pair",
            ),
            models.CheckConstraint(condition=~Q(user1=models.F("user2")), name="session_needs_two_users"),
        ]

    def __str__(self):
        return f"Session {self.pk} ({self.status})"

    def save(self, *args, **kwargs):
        self.pair_key = self.make_pair_key(self.user1_id, self.user2_id)
        super().save(*args, **kwargs)

    @staticmethod
    def make_pair_key(a_id: int, b_id: int) -> str:
        low, high = sorted((a_id, b_id))
        return f"{low}:{high}"

    @property
    def is_active(self) -> bool:
        """Unfinished (pending or active): the original client reads False as "ended"."""
        return self.status in self.UNFINISHED

    def teaching_seconds_of(self, user_id: int) -> int:
        """Seconds `user_id` has taught in this session."""
        return getattr(self, self._teaching_field(user_id))

    def add_teaching_seconds(self, user_id: int, seconds: int) -> None:
        """Credit `seconds` of teaching to `user_id` and save just that counter."""
        field = self._teaching_field(user_id)
        setattr(self, field, getattr(self, field) + seconds)
        self.save(update_fields=[field])

    def _teaching_field(self, user_id: int) -> str:
        return "user1_teaching_seconds" if user_id == self.user1_id else "user2_teaching_seconds"

    def other_participant_id(self, user_id: int) -> int:
        return self.user2_id if user_id == self.user1_id else self.user1_id


class TeachingTimer(models.Model):
    """One stretch of teaching by `teacher`, measured on the server clock."""

    class StopReason(models.TextChoices):
        STOPPED = "stopped", "Stopped by the teacher"
        SESSION_ENDED = "session_ended", "Session ended"
        TEACHER_ABSENT = "teacher_absent", "Teacher left"
        MAX_DURATION = "max_duration", "Reached the maximum duration"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="timers")
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    stop_reason = models.CharField(max_length=16, choices=StopReason.choices, blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session"], condition=Q(end_time__isnull=True), name="one_running_timer_per_session"
            ),
        ]
        indexes = [models.Index(fields=["end_time"], name="timer_running")]

    def __str__(self):
        return f"Timer {self.pk} of {self.teacher_id} in {self.session_id}"

    @property
    def is_running(self) -> bool:
        return self.end_time is None


class Attendance(models.Model):
    """When a participant was last present in a session (socket open or REST request)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="attendances")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="one_attendance_per_participant"),
        ]

    def __str__(self):
        return f"{self.user_id} in {self.session_id} at {self.last_seen_at}"
