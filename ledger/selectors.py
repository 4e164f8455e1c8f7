from decimal import Decimal

from .models import Account


def balance_of(*, user) -> Decimal:
    """The user's credits: the balance of their ledger account."""
    return Account.objects.values_list("balance", flat=True).get(user=user)
