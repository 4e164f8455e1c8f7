from decimal import Decimal

from ledger.models import Account, Transfer
from tests.factories import UserFactory


def test_new_user_holds_the_signup_grant(db):
    user = UserFactory()
    assert Account.objects.get(user=user).balance == Decimal("15.00")
    assert Transfer.objects.filter(destination__user=user, kind=Transfer.Kind.SIGNUP).count() == 1
