from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from common.errors import Conflict
from ledger.models import Transfer
from ledger.selectors import support_eligibility
from ledger.services import support_grant, teaching_pay
from tests.ledger.conftest import balance, bank_balance, make_user_with, reset_ledger_with_reserve

D = Decimal


@pytest.mark.parametrize(
    ("credits", "granted"),
    [("0.00", "6.00"), ("0.99", "6.00"), ("1.00", "4.00"), ("2.99", "4.00"), ("3.00", "2.00")],
)
def test_support_tier_follows_the_balance(user_with, credits, granted):
    user = user_with(credits)
    bank_before = bank_balance()

    grant = support_grant(user=user)

    assert grant.granted == D(granted)
    assert grant.credits == balance(user) == D(credits) + D(granted)
    assert bank_balance() == bank_before - D(granted)


def test_support_is_recorded_as_a_support_transfer_from_the_bank(user_with):
    user = user_with("0.50")
    support_grant(user=user)
    transfer = Transfer.objects.get(kind=Transfer.Kind.SUPPORT)
    assert (transfer.source.kind, transfer.destination.user, transfer.amount) == ("bank", user, D("6.00"))


@pytest.mark.parametrize("credits", ["3.01", "15.00"])
def test_balances_above_three_are_not_eligible(user_with, credits):
    user = user_with(credits)
    with pytest.raises(Conflict, match="3.00 credits or less"):
        support_grant(user=user)
    assert balance(user) == D(credits)
    assert not Transfer.objects.filter(kind=Transfer.Kind.SUPPORT).exists()


def test_eligibility_reports_tier_and_reason_without_granting(user_with):
    user = user_with("1.50")
    status = support_eligibility(user=user)
    assert (status.eligible, status.support_amount, status.current_credits) == (True, D("4.00"), D("1.50"))
    assert status.cooldown_ends is None
    assert balance(user) == D("1.50")


def test_a_second_grant_within_24_hours_is_refused(user_with):
    user = user_with("0.00")
    other = user_with("0.00")
    now = timezone.now()
    support_grant(user=user, now=now)
    teaching_pay(learner=user, teacher=other, seconds=10_000, session_id=1, now=now)  # back to 0.00

    with pytest.raises(Conflict, match="granted recently"):
        support_grant(user=user, now=now + timedelta(hours=23, minutes=59, seconds=59))
    assert balance(user) == D("0.00")


def test_cooldown_ends_24_hours_after_the_last_grant(user_with):
    user, other = user_with("0.00"), user_with("0.00")
    with time_machine.travel("2026-01-01 12:00:00+00:00", tick=False) as clock:
        first = support_grant(user=user)
        assert first.cooldown_ends.isoformat() == "2026-01-02T12:00:00+00:00"
        teaching_pay(learner=user, teacher=other, seconds=10_000, session_id=1)

        clock.move_to("2026-01-02 11:59:59+00:00")
        assert support_eligibility(user=user).cooldown_ends == first.cooldown_ends

        clock.move_to("2026-01-02 12:00:00+00:00")
        assert support_eligibility(user=user).eligible
        assert support_grant(user=user).granted == D("6.00")


def test_cooldown_is_reported_even_when_the_balance_is_fine(user_with):
    user = user_with("2.00")
    support_grant(user=user)
    status = support_eligibility(user=user)
    assert status.eligible is False
    assert status.support_amount == 0
    assert status.cooldown_ends is not None


def test_support_is_refused_when_the_bank_cannot_cover_it(db):
    reset_ledger_with_reserve("5.00")
    user = make_user_with("0.00")

    with pytest.raises(Conflict, match="bank cannot cover"):
        support_grant(user=user)

    assert balance(user) == D("0.00")
    assert bank_balance() == D("5.00")
    assert support_eligibility(user=user).cooldown_ends is None  # a refusal starts no cooldown


def test_a_small_grant_still_fits_a_nearly_empty_bank(db):
    reset_ledger_with_reserve("2.00")
    user = make_user_with("3.00")
    assert support_grant(user=user).granted == D("2.00")
    assert bank_balance() == D("0.00")


def test_a_user_made_around_the_manager_has_no_account_and_is_refused_loudly(db):
    from accounts.models import User

    (stray,) = User.objects.bulk_create([User(email="stray@example.com", name="Stray")])
    with pytest.raises(RuntimeError, match="no credit account"):
        support_grant(user=stray)
