from decimal import Decimal

from ledger.models import Account, Transfer
from ledger.selectors import balance_of
from ledger.services import teaching_pay
from tests.factories import SessionFactory, UserFactory
from tests.tutoring.conftest import api, stay, url
from tutoring import services
from tutoring.models import Session

D = Decimal


def teach(clock, session, teacher, seconds):
    services.timer_start(session_id=session.pk, user=teacher)
    stay(clock, session, teacher, seconds=seconds)
    services.timer_stop(session_id=session.pk, user=teacher)


def bank_balance():
    return Account.objects.get(kind=Account.Kind.BANK).balance


def test_ending_pays_the_teacher_minus_the_bank_cut(clock, active_session, alice, bob):
    bank_before = bank_balance()
    teach(clock, active_session, alice, 600)
    response = api(bob).post(url(active_session, "end/"))
    assert response.status_code == 200
    summary = response.json()["credit_summary"]
    assert summary["user1"] == {
        "id": alice.pk,
        "name": "Alice",
        "teaching_seconds": 600,
        "credits_earned": "1.80",
        "credits_spent": "0.00",
        "shortfall": "0.00",
    }
    assert summary["user2"] == {
        "id": bob.pk,
        "name": "Bob",
        "teaching_seconds": 0,
        "credits_earned": "0.00",
        "credits_spent": "2.00",
        "shortfall": "0.00",
    }
    assert summary["bank_cut"] == "0.20"
    assert balance_of(user=alice) == D("16.80")
    assert balance_of(user=bob) == D("13.00")
    assert bank_balance() == bank_before + D("0.20")


def test_ending_completes_the_session(clock, active_session, alice):
    clock.shift(900)
    body = api(alice).post(url(active_session, "end/")).json()["session"]
    assert body["status"] == "completed" and body["is_active"] is False
    assert body["end_time"] is not None and body["total_duration"] == 900
    assert api(alice).get(url(active_session)).json()["status"] == "completed"


def test_teaching_both_ways_settles_each_direction(clock, active_session, alice, bob):
    teach(clock, active_session, alice, 1000)  # 3.33 owed by Bob, cut 0.33
    teach(clock, active_session, bob, 500)  # 1.66 owed by Alice, cut 0.17
    summary = services.session_end(session_id=active_session.pk, user=alice).credit_summary
    assert summary["user1"]["credits_earned"] == "3.00" and summary["user1"]["credits_spent"] == "1.66"
    assert summary["user2"]["credits_earned"] == "1.49" and summary["user2"]["credits_spent"] == "3.33"
    assert summary["bank_cut"] == "0.50"
    assert balance_of(user=alice) == D("16.34")
    assert balance_of(user=bob) == D("13.16")


def test_ending_stops_the_running_timer_and_pays_for_it(clock, active_session, alice, bob):
    services.timer_start(session_id=active_session.pk, user=bob)
    stay(clock, active_session, bob, seconds=299)
    body = api(alice).post(url(active_session, "end/")).json()
    assert body["session"]["active_timer"] is None
    assert body["session"]["user2_teaching_time"] == 299
    assert body["credit_summary"]["user1"]["credits_spent"] == "0.99"
    assert active_session.timers.get().stop_reason == "session_ended"


def test_a_learner_who_cannot_pay_pays_what_they_hold(clock, active_session, alice, bob):
    earlier = SessionFactory(user1=bob, status=Session.Status.COMPLETED)
    teaching_pay(learner=bob, teacher=earlier.user2, seconds=4200, session_id=earlier.pk)
    assert balance_of(user=bob) == D("1.00")
    teach(clock, active_session, alice, 600)
    summary = services.session_end(session_id=active_session.pk, user=bob).credit_summary
    assert summary["user2"]["credits_spent"] == "1.00"
    assert summary["user2"]["shortfall"] == "1.00"
    assert summary["user1"]["credits_earned"] == "0.90"
    assert summary["bank_cut"] == "0.10"
    assert balance_of(user=bob) == D("0.00")
    assert balance_of(user=alice) == D("15.90")


def test_ending_twice_is_a_conflict_and_moves_nothing(clock, active_session, alice, bob):
    teach(clock, active_session, alice, 600)
    assert api(alice).post(url(active_session, "end/")).status_code == 200
    transfers = Transfer.objects.count()
    assert api(bob).post(url(active_session, "end/")).status_code == 409
    assert api(alice).post(url(active_session, "end/")).status_code == 409
    assert Transfer.objects.count() == transfers
    assert balance_of(user=bob) == D("13.00")


def test_ending_a_pending_session_calls_it_off_without_charges(alice, bob):
    session = SessionFactory(user1=alice, user2=bob)
    response = api(alice).post(url(session, "end/"))
    assert response.status_code == 200
    assert response.json()["session"]["status"] == "rejected"
    assert response.json()["credit_summary"]["bank_cut"] == "0.00"
    assert not Transfer.objects.filter(session_id=session.pk).exists()
    assert api(bob).post(url(session, "end/")).status_code == 409


def test_ending_a_rejected_session_is_a_conflict(alice, bob):
    session = SessionFactory(user1=alice, user2=bob, status=Session.Status.REJECTED)
    assert api(bob).post(url(session, "end/")).status_code == 409


def test_outsiders_cannot_end_a_session(active_session):
    assert api(UserFactory()).post(url(active_session, "end/")).status_code == 404
    active_session.refresh_from_db()
    assert active_session.status == Session.Status.ACTIVE


def test_a_session_with_no_teaching_settles_to_zero(active_session, alice):
    summary = api(alice).post(url(active_session, "end/")).json()["credit_summary"]
    assert summary["bank_cut"] == "0.00"
    assert summary["user1"]["credits_earned"] == summary["user2"]["credits_spent"] == "0.00"
    assert balance_of(user=alice) == D("15.00")
