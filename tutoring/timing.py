"""When a teaching timer really ended: the one rule behind stop, end and the runaway sweep.

Kept pure (no database, no clock) so every path that stops a timer credits exactly the same time
and the rule can be tested on its own.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

# Mirrors TeachingTimer.StopReason; plain strings keep this module free of Django models.
TEACHER_ABSENT = "teacher_absent"
MAX_DURATION = "max_duration"


@dataclass(frozen=True)
class EffectiveEnd:
    end: datetime
    # None: the timer is still legitimately running, so a stop now ends it at `now`.
    # Otherwise why it ended earlier by itself (TEACHER_ABSENT or MAX_DURATION).
    reason: str | None

    @property
    def overdue(self) -> bool:
        return self.reason is not None


def timer_effective_end(
    *, start: datetime, now: datetime, last_seen: datetime | None, grace: timedelta, max_seconds: int
) -> EffectiveEnd:
    """The moment a timer started at `start` stops counting, judged at `now`.

    The teacher counts as present at `start` (starting a timer is being there) and at
    `last_seen`. Absent for longer than `grace` → the time ends when the absence began. Running
    longer than `max_seconds` → it ends at the cap. If both apply, the earlier moment wins.
    """
    present_at = start if last_seen is None else max(last_seen, start)
    endings = []
    if now - present_at > grace:
        endings.append((present_at, TEACHER_ABSENT))
    cap_end = start + timedelta(seconds=max_seconds)
    if now > cap_end:
        endings.append((cap_end, MAX_DURATION))
    if not endings:
        return EffectiveEnd(end=max(now, start), reason=None)
    end, reason = min(endings, key=lambda e: e[0])
    return EffectiveEnd(end=end, reason=reason)


def seconds_between(start: datetime, end: datetime) -> int:
    """Whole seconds credited for a stretch; a partial second is not paid."""
    return max(0, int((end - start).total_seconds()))
