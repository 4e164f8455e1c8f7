import pytest

from ledger.models import Account, Transfer
from tests.factories import UserFactory


@pytest.fixture
def admin_client_(client, db):
    admin = UserFactory()
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", ["account", "transfer", "payment"])
def test_the_admin_lists_the_ledger(admin_client_, model):
    assert admin_client_.get(f"/admin/ledger/{model}/").status_code == 200


@pytest.mark.parametrize("model", ["account", "transfer", "payment"])
def test_the_admin_cannot_add_ledger_rows(admin_client_, model):
    assert admin_client_.get(f"/admin/ledger/{model}/add/").status_code == 403


def test_the_admin_cannot_change_or_delete_an_account(admin_client_):
    account = Account.objects.filter(kind=Account.Kind.USER).first()
    before = account.balance
    response = admin_client_.post(f"/admin/ledger/account/{account.pk}/change/", {"balance": "999.00"})
    assert response.status_code == 403
    assert (
        admin_client_.post(f"/admin/ledger/account/{account.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    account.refresh_from_db()
    assert account.balance == before


def test_the_admin_can_view_a_transfer(admin_client_):
    transfer = Transfer.objects.first()
    assert admin_client_.get(f"/admin/ledger/transfer/{transfer.pk}/change/").status_code == 200
