"""Races that only a real database with row locks can referee (PostgreSQL)."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from common.errors import Conflict
from ledger.models import Account, Payment, Transfer
from ledger.services import bank_reserve_ensure, support_grant, teaching_pay
from tests.concurrency import race, race_n
from tests.ledger.conftest import balance, bank_balance, make_user_with

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


def test_ten_simultaneous_support_requests_grant_once():
    user = make_user_with("0.00")
    bank_before = bank_balance()

    results = race_n(10, lambda: support_grant(user=user))

    granted = [r for r in results if not isinstance(r, Exception)]
    assert len(granted) == 1, results
    assert all(isinstance(r, Conflict) for r in results if r not in granted)
    assert balance(user) == D("6.00")
    assert bank_balance() == bank_before - D("6.00")
    call_command("ledger_check", verbosity=0)


def test_payments_in_both_directions_at_once_neither_deadlock_nor_lose_updates():
    a, b = make_user_with("100.00"), make_user_with("100.00")
    bank_before = bank_balance()

    def both_ways(i):
        first, second = (a, b) if i % 2 else (b, a)
        teaching_pay(learner=first, teacher=second, seconds=300, session_id=1000 + i)
        teaching_pay(learner=second, teacher=first, seconds=300, session_id=2000 + i)
        return True

    results = race(*[lambda i=i: both_ways(i) for i in range(20)])

    assert results == [True] * 20, results
    # Each paid 20 x 1.00 and received 20 x 0.90; the bank kept 40 x 0.10.
    assert balance(a) == balance(b) == D("98.00")
    assert bank_balance() == bank_before + D("4.00")
    assert Payment.objects.count() == 40
    call_command("ledger_check", verbosity=0)


def test_concurrent_replays_of_one_payment_move_credits_once():
    learner, teacher = make_user_with("15.00"), make_user_with("15.00")

    results = race_n(8, lambda: teaching_pay(learner=learner, teacher=teacher, seconds=3600, session_id=7))

    assert len(set(results)) == 1, results
    assert results[0].paid == D("12.00")
    assert balance(learner) == D("3.00")
    assert balance(teacher) == D("25.80")
    assert Transfer.objects.filter(session_id=7).count() == 2
    call_command("ledger_check", verbosity=0)


def test_concurrent_first_use_funds_the_bank_once():
    Transfer.objects.all().delete()
    Account.objects.all().delete()

    results = race_n(4, bank_reserve_ensure)

    assert all(isinstance(r, Account) for r in results), results
    assert Account.objects.filter(kind=Account.Kind.BANK).count() == 1
    assert Account.objects.filter(kind=Account.Kind.ISSUANCE).count() == 1
    assert Transfer.objects.filter(kind=Transfer.Kind.RESERVE).count() == 1
    assert bank_balance() == D("1000.00")
    call_command("ledger_check", verbosity=0)
