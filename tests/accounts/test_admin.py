from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from ledger.models import Transfer
from tests.factories import UserFactory


@pytest.fixture
def admin_client_(db):
    admin = User.objects.create_superuser(email="root@example.com", name="Root", password="x-Strong-pass-1")
    client = Client()
    client.force_login(admin)
    return client


def test_createsuperuser_non_interactive_gets_the_signup_grant(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "x-Strong-pass-1")
    call_command("createsuperuser", "--noinput", "--email", "Boss@Example.com", "--name", "Boss", verbosity=0)
    user = User.objects.get(email="boss@example.com")
    assert user.is_superuser and user.is_staff
    assert user.check_password("x-Strong-pass-1")
    assert user.ledger_account.balance == Decimal("15.00")


def test_create_user_grants_exactly_once(db):
    user = User.objects.create_user(email="a@example.com", name="A", password="pw")
    assert Transfer.objects.filter(destination__user=user, kind=Transfer.Kind.SIGNUP).count() == 1


def test_admin_user_list_shows_credits_and_searches(admin_client_):
    UserFactory(name="Findable Person")
    response = admin_client_.get("/admin/accounts/user/", {"q": "findable"})
    assert response.status_code == 200
    assert b"Findable Person" in response.content
    assert b"15.00" in response.content


def test_admin_change_page_shows_credits_read_only(admin_client_):
    user = UserFactory()
    response = admin_client_.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    assert b'name="credits"' not in response.content
    assert b"15.00" in response.content


def test_admin_creates_users_with_a_ledger_account(admin_client_):
    response = admin_client_.post(
        "/admin/accounts/user/add/",
        {
            "email": "New@Example.com",
            "name": "Newbie",
            "password1": "x-Strong-pass-1",
            "password2": "x-Strong-pass-1",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    user = User.objects.get(email="new@example.com")
    assert user.ledger_account.balance == Decimal("15.00")


def test_admin_refuses_a_duplicate_name_in_another_case(admin_client_):
    UserFactory(name="Taken")
    response = admin_client_.post(
        "/admin/accounts/user/add/",
        {
            "email": "n@example.com",
            "name": "TAKEN",
            "password1": "x-Strong-pass-1",
            "password2": "x-Strong-pass-1",
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="n@example.com").exists()


def test_admin_edits_a_user(admin_client_):
    user = UserFactory()
    response = admin_client_.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"email": user.email, "name": "Renamed", "availability": "Mornings", "is_active": "on"},
    )
    assert response.status_code == 302, response.content[:3000]
    user.refresh_from_db()
    assert (user.name, user.availability) == ("Renamed", "Mornings")


def test_admin_deletes_an_account_from_the_users_page(admin_client_):
    from tutoring import services as tutoring

    user, other = UserFactory(), UserFactory()
    session = tutoring.session_create(creator=other, invitee_id=user.pk)
    page = admin_client_.get(f"/admin/accounts/user/{user.pk}/change/")
    link = f"/admin/accounts/user/{user.pk}/delete-account/"
    assert link.encode() in page.content
    confirm = admin_client_.get(link)
    assert confirm.status_code == 200 and user.email.encode() in confirm.content
    assert User.objects.get(pk=user.pk).is_active  # asking is not doing
    response = admin_client_.post(link)
    assert response.status_code == 302
    gone = User.objects.get(pk=user.pk)
    assert (gone.email, gone.is_active) == (f"deleted-{user.pk}@invalid", False)
    session.refresh_from_db()
    assert session.status == "rejected"  # through the same service as DELETE users/me/
    # A deleted account is a tombstone: view only, no second deletion, no link.
    page = admin_client_.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == 200 and link.encode() not in page.content
    assert admin_client_.post(link).status_code == 403


def test_admin_action_deletes_the_selected_accounts(admin_client_):
    users = [UserFactory(), UserFactory()]
    keep = UserFactory()
    response = admin_client_.post(
        "/admin/accounts/user/",
        {"action": "delete_accounts", "_selected_action": [u.pk for u in users]},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[u.pk for u in users], is_active=True).exists()
    assert User.objects.filter(pk__in=[u.pk for u in users], deleted_at__isnull=False).count() == 2
    assert User.objects.get(pk=keep.pk).is_active
    call_command("ledger_check", verbosity=0)


def test_staff_without_change_permission_cannot_delete_accounts(db):
    staff = User.objects.create_user(email="staff@example.com", name="Staff", password="x", is_staff=True)
    user = UserFactory()
    client = Client()
    client.force_login(staff)
    assert client.post(f"/admin/accounts/user/{user.pk}/delete-account/").status_code == 403
    assert User.objects.get(pk=user.pk).is_active


def test_staff_who_may_only_view_users_cannot_run_the_delete_action(db):
    from django.contrib.auth.models import Permission

    staff = User.objects.create_user(email="viewer@example.com", name="Viewer", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))
    user = UserFactory()
    client = Client()
    client.force_login(staff)
    client.post("/admin/accounts/user/", {"action": "delete_accounts", "_selected_action": [user.pk]})
    assert User.objects.get(pk=user.pk).is_active


@pytest.mark.parametrize(
    ("field", "existing", "twin"),
    [
        ("name", "alice", "ａｌｉｃｅ"),
        ("email", "x@example.org", "x@ｅｘａｍｐｌｅ.org"),
        ("name", "New", "New\u200b"),
    ],
)
def test_admin_refuses_look_alikes_and_invisible_names(admin_client_, field, existing, twin):
    if existing != "New":
        UserFactory(**{field: existing})
    form = {
        "email": "n@example.com",
        "name": "Newbie",
        "password1": "x-Strong-pass-1",
        "password2": "x-Strong-pass-1",
    }
    form[field] = twin
    response = admin_client_.post("/admin/accounts/user/add/", form)
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert User.objects.count() == (2 if existing != "New" else 1)


def test_admin_search_folds_look_alike_spellings(admin_client_):
    UserFactory(name="Findable Person")
    response = admin_client_.get("/admin/accounts/user/", {"q": "ＦＩＮＤＡＢＬＥ"})
    assert b"Findable Person" in response.content
