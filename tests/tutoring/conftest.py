from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import UserFactory
from tutoring import services

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def api(user) -> APIClient:
    """A client whose token outlives the hours these tests travel through."""
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(days=365))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def clock():
    """Frozen server time starting at T0; move it with clock.shift(seconds)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def alice(db):
    return UserFactory(name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(name="Bob")


def accepted_session(creator, invitee):
    """`creator` invited `invitee`, who accepted: a session whose timers may run."""
    session = services.session_create(creator=creator, invitee_id=invitee.pk)
    return services.session_respond(session_id=session.pk, user=invitee, decision="accept")


def taught_session(teacher, learner, *, minutes: int = 10):
    """An accepted, unfinished session in which `teacher` taught (and was present) for `minutes`
    that ended an hour ago at the latest: 10 minutes are worth 2.00 credits."""
    session = accepted_session(teacher, learner)
    start = timezone.now() - timedelta(hours=1)
    services.timer_start(session_id=session.pk, user=teacher, now=start)
    for minute in range(1, minutes + 1):
        services.attendance_touch(
            session_id=session.pk, user_id=teacher.pk, now=start + timedelta(minutes=minute)
        )
    services.timer_stop(session_id=session.pk, user=teacher, now=start + timedelta(minutes=minutes))
    return session


@pytest.fixture
def active_session(clock, alice, bob):
    """Alice invited Bob and Bob accepted, at T0."""
    return accepted_session(alice, bob)


def url(session, action: str = "") -> str:
    return f"/api/sessions/{session.pk}/{action}"


def stay(clock, session, *users, seconds: float, step: float = 60) -> None:
    """Let `seconds` pass while `users` stay in the session (as an open socket would report)."""
    left = seconds
    while left > 0:
        clock.shift(min(step, left))
        left -= step
        for user in users:
            services.attendance_touch(session_id=session.pk, user_id=user.pk)
