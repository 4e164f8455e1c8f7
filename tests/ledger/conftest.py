from decimal import Decimal

import pytest
from django.test import override_settings

from ledger.models import Account, Transfer
from ledger.services import bank_reserve_ensure
from tests.factories import UserFactory


def make_user_with(credits) -> object:
    """A user whose signup grant was `credits`, so the ledger still adds up."""
    with override_settings(SIGNUP_GRANT=Decimal(str(credits))):
        return UserFactory()


@pytest.fixture
def user_with(db):
    return make_user_with


def balance(user) -> Decimal:
    return Account.objects.get(user=user).balance


def total_balance() -> Decimal:
    """Summed in Python: SQLite would sum the decimals as floats."""
    return sum(Account.objects.values_list("balance", flat=True), Decimal("0.00"))


def bank_balance() -> Decimal:
    return Account.objects.get(kind=Account.Kind.BANK).balance


def reset_ledger_with_reserve(reserve) -> Account:
    """An empty ledger whose bank starts with `reserve` (call before creating any user)."""
    Transfer.objects.all().delete()
    Account.objects.all().delete()
    with override_settings(BANK_INITIAL_RESERVE=Decimal(str(reserve))):
        return bank_reserve_ensure()
