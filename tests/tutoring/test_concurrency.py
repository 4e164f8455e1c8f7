"""Races that only real PostgreSQL row locks and concurrent connections can show."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from common.errors import Conflict
from ledger.models import Transfer
from ledger.selectors import balance_of
from tests.concurrency import race, race_n
from tests.factories import UserFactory
from tests.tutoring.conftest import accepted_session, api, url
from tutoring import services
from tutoring.models import Session, TeachingTimer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pair():
    alice, bob = UserFactory(name="Alice"), UserFactory(name="Bob")
    return accepted_session(alice, bob), alice, bob


def test_two_participants_starting_at_once_leave_one_timer_running(pair):
    session, alice, bob = pair
    results = race(
        lambda: services.timer_start(session_id=session.pk, user=alice),
        lambda: services.timer_start(session_id=session.pk, user=bob),
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "TeachingTimer"]
    assert TeachingTimer.objects.filter(session=session, end_time__isnull=True).count() == 1


def test_one_teacher_starting_twice_at_once_gets_one_timer(pair):
    session, alice, _ = pair
    results = race_n(4, lambda: services.timer_start(session_id=session.pk, user=alice))
    assert sum(isinstance(r, TeachingTimer) for r in results) == 1
    assert all(isinstance(r, (TeachingTimer, Conflict)) for r in results)
    assert TeachingTimer.objects.filter(session=session).count() == 1


def test_both_participants_ending_at_once_settle_once(pair):
    session, alice, bob = pair
    start = timezone.now() - timedelta(hours=1)
    services.timer_start(session_id=session.pk, user=alice, now=start)
    for minute in range(1, 11):  # Alice stays in the room while she teaches
        services.attendance_touch(
            session_id=session.pk, user_id=alice.pk, now=start + timedelta(minutes=minute)
        )
    services.timer_stop(session_id=session.pk, user=alice, now=start + timedelta(seconds=600))
    alice_client, bob_client = api(alice), api(bob)
    responses = race(
        lambda: alice_client.post(url(session, "end/")),
        lambda: bob_client.post(url(session, "end/")),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert balance_of(user=alice) == Decimal("16.80")
    assert balance_of(user=bob) == Decimal("13.00")
    assert Transfer.objects.filter(session_id=session.pk).count() == 2  # payment and cut, once
    call_command("ledger_check")


def test_concurrent_sweeps_stop_and_credit_a_timer_once(pair):
    session, alice, _ = pair
    services.timer_start(session_id=session.pk, user=alice, now=timezone.now() - timedelta(hours=1))
    results = race_n(3, services.timers_sweep)
    assert sum(len(r) for r in results) == 1
    session.refresh_from_db()
    assert session.user1_teaching_seconds == 0  # absent from the start: nothing to credit
    assert TeachingTimer.objects.get().stop_reason == "teacher_absent"


def test_ending_while_a_timer_stops_credits_it_once(pair):
    session, alice, bob = pair
    start = timezone.now() - timedelta(seconds=60)
    services.timer_start(session_id=session.pk, user=alice, now=start)
    results = race(
        lambda: services.timer_stop(session_id=session.pk, user=alice),
        lambda: services.session_end(session_id=session.pk, user=bob),
    )
    assert not any(isinstance(r, Exception) and not isinstance(r, Conflict) for r in results)
    session.refresh_from_db()
    timer = TeachingTimer.objects.get()
    assert session.status == Session.Status.COMPLETED
    assert session.user1_teaching_seconds == timer.duration_seconds
    assert session.credit_summary["user1"]["teaching_seconds"] == timer.duration_seconds
    call_command("ledger_check")


def test_crossed_invitations_at_once_create_one_session(pair):
    _, alice, bob = pair
    carol = UserFactory()
    results = race(
        lambda: services.session_create(creator=alice, invitee_id=carol.pk),
        lambda: services.session_create(creator=carol, invitee_id=alice.pk),
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Session"]
    assert Session.objects.filter(pair_key=Session.make_pair_key(alice.pk, carol.pk)).count() == 1
