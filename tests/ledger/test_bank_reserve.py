from decimal import Decimal

from django.core.management import call_command
from django.test import override_settings

from ledger.models import Account, Transfer
from ledger.services import bank_account, bank_reserve_ensure
from tests.ledger.conftest import reset_ledger_with_reserve


def test_migrate_leaves_a_bank_funded_with_the_reserve(db):
    bank = Account.objects.get(kind=Account.Kind.BANK)
    assert bank.balance == Decimal("1000.00")
    assert Transfer.objects.filter(kind=Transfer.Kind.RESERVE, destination=bank).count() == 1


def test_the_reserve_is_funded_only_once(db):
    bank_reserve_ensure()
    bank_reserve_ensure()
    assert Transfer.objects.filter(kind=Transfer.Kind.RESERVE).count() == 1
    assert bank_account().balance == Decimal("1000.00")


def test_first_use_on_an_empty_ledger_creates_and_funds_the_bank(db):
    Transfer.objects.all().delete()
    Account.objects.all().delete()

    with override_settings(BANK_INITIAL_RESERVE=Decimal("250.00")):
        assert bank_account().balance == Decimal("250.00")
        assert bank_account().balance == Decimal("250.00")
    assert Account.objects.filter(kind=Account.Kind.BANK).count() == 1
    issuance = Account.objects.get(kind=Account.Kind.ISSUANCE)
    assert issuance.balance == Decimal("-250.00")


def test_a_zero_reserve_opens_an_empty_bank(db):
    bank = reset_ledger_with_reserve("0.00")
    assert bank.balance == Decimal("0.00")
    assert not Transfer.objects.exists()


def test_migrating_again_does_not_fund_the_bank_twice(db):
    call_command("migrate", verbosity=0)
    assert Transfer.objects.filter(kind=Transfer.Kind.RESERVE).count() == 1
