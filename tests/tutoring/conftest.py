from datetime import UTC, datetime, timedelta

import pytest
import time_machine
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


@pytest.fixture
def active_session(clock, alice, bob):
    """Alice invited Bob and Bob accepted, at T0."""
    session = services.session_create(creator=alice, invitee_id=bob.pk)
    return services.session_respond(session_id=session.pk, user=bob, decision="accept")


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
