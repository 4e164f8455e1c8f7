from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from ledger.models import Account, Payment, Transfer
from ledger.selectors import ledger_mismatches
from ledger.services import support_grant, teaching_pay


class _Undo(Exception):
    """Raised to roll back a deliberate corruption, so the suite's own reconciliation holds."""


def _check_fails_with(corrupt) -> str:
    err = StringIO()
    with pytest.raises(_Undo), transaction.atomic():
        corrupt()
        with pytest.raises(CommandError, match="mismatch"):
            call_command("ledger_check", stdout=StringIO(), stderr=err)
        raise _Undo
    return err.getvalue()


def test_a_healthy_ledger_passes_with_a_summary(user_with):
    learner, teacher = user_with("15.00"), user_with("0.50")
    teaching_pay(learner=learner, teacher=teacher, seconds=3600, session_id=1)
    support_grant(user=learner)
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert out.getvalue().startswith("OK:")
    assert ledger_mismatches() == []


def test_a_balance_that_disagrees_with_its_transfers_is_reported(user):
    def corrupt():
        Account.objects.filter(user=user).update(balance=Decimal("99.00"))

    report = _check_fails_with(corrupt)
    assert f"user {user.pk}): balance 99.00 but transfers say 15.00" in report
    assert "balances sum to" in report


def test_a_wrong_balance_after_is_reported(user):
    def corrupt():
        Transfer.objects.filter(destination__user=user).update(destination_balance_after=Decimal("1.00"))

    assert "destination balance after is 1.00, replay says 15.00" in _check_fails_with(corrupt)


def test_a_transfer_of_the_wrong_kind_is_reported(user, other_user):
    def corrupt():
        Transfer.objects.filter(destination__user=user).update(kind=Transfer.Kind.TEACHING)

    assert "TEACHING may not go from issuance to user" in _check_fails_with(corrupt)


def test_a_payment_that_disagrees_with_its_transfers_is_reported(user, other_user):
    teaching_pay(learner=user, teacher=other_user, seconds=3000, session_id=3)

    def corrupt():
        Payment.objects.filter(session_id=3).update(cut=Decimal("0.50"))

    assert "but transfers moved 9.00 to the teacher and 1.00 to the bank" in _check_fails_with(corrupt)
