from decimal import Decimal

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import Invalid
from ledger.models import Payment, Transfer
from ledger.services import teaching_pay
from tests.factories import UserFactory
from tests.ledger.conftest import balance, bank_balance, total_balance

D = Decimal


def test_learner_pays_teacher_and_the_bank_takes_ten_percent(user_with):
    learner, teacher = user_with("15.00"), user_with("15.00")
    bank_before = bank_balance()

    result = teaching_pay(learner=learner, teacher=teacher, seconds=3600, session_id=1)

    assert (result.owed, result.paid, result.cut, result.shortfall) == (D("12.00"), D("12.00"), D("1.20"), 0)
    assert result.teacher_received == D("10.80")
    assert balance(learner) == D("3.00")
    assert balance(teacher) == D("25.80")
    assert bank_balance() == bank_before + D("1.20")


def test_payment_writes_a_teaching_and_a_bank_cut_transfer_for_the_session(user_with):
    learner, teacher = user_with("15.00"), user_with("15.00")
    teaching_pay(learner=learner, teacher=teacher, seconds=900, session_id=7)

    rows = Transfer.objects.filter(session_id=7).order_by("pk").values_list("kind", "amount")
    assert list(rows) == [("TEACHING", D("2.70")), ("BANK_CUT", D("0.30"))]


def test_a_learner_short_of_credits_pays_what_they_hold_and_the_rest_is_shortfall(user_with):
    learner, teacher = user_with("5.00"), user_with("15.00")

    result = teaching_pay(learner=learner, teacher=teacher, seconds=3600, session_id=1)

    assert (result.paid, result.cut, result.shortfall) == (D("5.00"), D("0.50"), D("7.00"))
    assert balance(learner) == D("0.00")
    assert balance(teacher) == D("19.50")


def test_a_learner_with_nothing_pays_nothing(user_with):
    learner, teacher = user_with("0.00"), user_with("15.00")

    result = teaching_pay(learner=learner, teacher=teacher, seconds=600, session_id=1)

    assert (result.paid, result.cut, result.shortfall) == (0, 0, D("2.00"))
    assert not Transfer.objects.filter(session_id=1).exists()
    assert balance(teacher) == D("15.00")


def test_less_than_three_seconds_of_teaching_costs_nothing(user_with):
    learner, teacher = user_with("15.00"), user_with("15.00")
    result = teaching_pay(learner=learner, teacher=teacher, seconds=2, session_id=1)
    assert result.owed == result.paid == 0
    assert balance(learner) == D("15.00")


def test_replaying_a_payment_returns_the_first_result_and_moves_nothing(user_with):
    learner, teacher = user_with("15.00"), user_with("15.00")
    first = teaching_pay(learner=learner, teacher=teacher, seconds=3600, session_id=1)
    transfers = Transfer.objects.count()

    again = teaching_pay(learner=learner, teacher=teacher, seconds=7200, session_id=1)

    assert again == first
    assert Transfer.objects.count() == transfers
    assert balance(learner) == D("3.00")


def test_a_replay_does_not_charge_a_learner_who_had_nothing_the_first_time(user_with):
    learner, teacher = user_with("0.00"), user_with("15.00")
    teaching_pay(learner=learner, teacher=teacher, seconds=600, session_id=1)
    teaching_pay(learner=teacher, teacher=learner, seconds=3000, session_id=1)  # learner now holds 9.00

    again = teaching_pay(learner=learner, teacher=teacher, seconds=600, session_id=1)

    assert again.paid == 0
    assert balance(learner) == D("9.00")


def test_each_direction_of_a_session_is_paid_separately(user_with):
    a, b = user_with("15.00"), user_with("15.00")
    teaching_pay(learner=a, teacher=b, seconds=300, session_id=1)
    teaching_pay(learner=b, teacher=a, seconds=600, session_id=1)
    assert Payment.objects.filter(session_id=1).count() == 2
    assert balance(a) == D("15.00") - D("1.00") + D("1.80")


def test_nobody_pays_themselves(user):
    with pytest.raises(Invalid):
        teaching_pay(learner=user, teacher=user, seconds=300, session_id=1)


@pytest.mark.parametrize("seconds", [-1, 1.5, "300", True])
def test_teaching_time_must_be_whole_non_negative_seconds(user, other_user, seconds):
    with pytest.raises(Invalid):
        teaching_pay(learner=user, teacher=other_user, seconds=seconds, session_id=1)
    assert balance(user) == D("15.00")


class _Rollback(Exception):
    pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    learner_cents=st.integers(min_value=0, max_value=100_000),
    teacher_cents=st.integers(min_value=0, max_value=100_000),
    seconds=st.integers(min_value=0, max_value=200_000),
)
def test_payments_conserve_credits_and_never_overdraw(db, learner_cents, teacher_cents, seconds):
    try:
        with transaction.atomic():
            with override_settings(SIGNUP_GRANT=D(learner_cents) / 100):
                learner = UserFactory()
            with override_settings(SIGNUP_GRANT=D(teacher_cents) / 100):
                teacher = UserFactory()
            total_before = total_balance()
            learner_before, teacher_before, bank_before = balance(learner), balance(teacher), bank_balance()

            result = teaching_pay(learner=learner, teacher=teacher, seconds=seconds, session_id=1)

            assert balance(learner) >= 0
            assert result.paid == min(result.owed, learner_before)
            assert result.shortfall == result.owed - result.paid
            assert balance(learner) == learner_before - result.paid
            assert balance(teacher) == teacher_before + result.teacher_received
            assert bank_balance() == bank_before + result.cut
            assert total_balance() == total_before == 0
            raise _Rollback
    except _Rollback:
        pass
