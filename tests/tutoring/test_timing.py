"""The effective-end rule on its own: the same rule stop, end and the sweep rely on."""

from datetime import timedelta

from tests.tutoring.conftest import T0
from tutoring.timing import MAX_DURATION, TEACHER_ABSENT, timer_effective_end

GRACE = timedelta(seconds=120)
CAP = 4 * 3600


def end(*, now_s, last_seen_s=None):
    last_seen = None if last_seen_s is None else T0 + timedelta(seconds=last_seen_s)
    return timer_effective_end(
        start=T0, now=T0 + timedelta(seconds=now_s), last_seen=last_seen, grace=GRACE, max_seconds=CAP
    )


def test_a_present_teacher_is_credited_until_now():
    result = end(now_s=600, last_seen_s=590)
    assert (result.end, result.reason) == (T0 + timedelta(seconds=600), None)


def test_starting_the_timer_counts_as_being_present():
    assert end(now_s=120).reason is None
    result = end(now_s=121)
    assert (result.end, result.reason) == (T0, TEACHER_ABSENT)


def test_an_absent_teacher_is_credited_until_last_seen():
    result = end(now_s=1000, last_seen_s=300)
    assert (result.end, result.reason) == (T0 + timedelta(seconds=300), TEACHER_ABSENT)


def test_presence_before_the_start_does_not_count_against_the_teacher():
    result = end(now_s=60, last_seen_s=-3600)
    assert result.reason is None


def test_a_timer_past_the_cap_is_credited_up_to_the_cap():
    result = end(now_s=CAP + 500, last_seen_s=CAP + 490)
    assert (result.end, result.reason) == (T0 + timedelta(seconds=CAP), MAX_DURATION)


def test_when_both_apply_the_earlier_moment_wins():
    result = end(now_s=CAP + 5000, last_seen_s=CAP + 100)
    assert (result.end, result.reason) == (T0 + timedelta(seconds=CAP), MAX_DURATION)
    result = end(now_s=CAP + 5000, last_seen_s=1000)
    assert (result.end, result.reason) == (T0 + timedelta(seconds=1000), TEACHER_ABSENT)
