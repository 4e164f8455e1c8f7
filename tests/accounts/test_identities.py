"""One person, one account: look-alike spellings of an email or a name are the same identity
(SPEC section 2: NFKC case-folded, IDNA domains, no invisible or bidi control characters)."""

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

from .conftest import STRONG

SIGNUP = "/api/auth/signup/"

EMAIL_TWINS = [
    ("x@example.org", "x@ｅｘａｍｐｌｅ.org"),  # fullwidth domain
    ("x@example.org", "ｘ@example.org"),  # fullwidth local part
    ("x@ex\u00e1mple.com", "x@exa\u0301mple.com"),  # composed vs decomposed accent
    ("x@ex\u00e1mple.com", "x@xn--exmple-qta.com"),  # Unicode domain vs its punycode
    ("x@xn--exmple-qta.com", "X@EX\u00c1MPLE.COM"),  # and the other way round, in capitals
    ("x@example.org", "x@exa\u00admple.org"),  # a soft hyphen IDNA ignores
]
NAME_TWINS = [
    ("alice", "ａｌｉｃｅ"),  # fullwidth
    ("alice", "ALICE"),
    ("Ren\u00e9e", "Rene\u0301e"),  # composed vs decomposed
    ("Straße", "STRASSE"),  # case folding, not just lower-casing
]
INVISIBLE_NAMES = [
    "alice\u200b",  # zero-width space
    "\u202ealice",  # right-to-left override
    "\u202dalice",  # left-to-right override
    "al\u200dice",  # zero-width joiner
    "alice\u2066",  # left-to-right isolate
    "\ufeffalice",  # byte order mark
    "al\u00adice",  # soft hyphen
    "alice\u3164",  # Hangul filler (draws nothing)
    "alice\u0007",  # a control character
]


def body(email="new@example.org", name="Newcomer"):
    return {"email": email, "name": name, "password": STRONG, "password_confirm": STRONG}


@pytest.mark.parametrize(("existing", "twin"), EMAIL_TWINS)
def test_a_look_alike_email_cannot_sign_up_twice(api_client, db, existing, twin):
    assert api_client.post(SIGNUP, body(email=existing, name="First"), format="json").status_code == 201
    response = api_client.post(SIGNUP, body(email=twin, name="Second"), format="json")
    assert response.status_code == 400
    assert "email" in response.json()
    assert User.objects.count() == 1


@pytest.mark.parametrize(("existing", "twin"), NAME_TWINS)
def test_a_look_alike_name_cannot_sign_up_twice(api_client, db, existing, twin):
    UserFactory(name=existing)
    response = api_client.post(SIGNUP, body(name=twin), format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert not User.objects.filter(email="new@example.org").exists()


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_name_with_invisible_or_direction_characters_is_400_on_name(api_client, db, name):
    response = api_client.post(SIGNUP, body(name=name), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name"}
    assert not User.objects.exists()


@pytest.mark.parametrize("name", INVISIBLE_NAMES[:3])
def test_patch_me_refuses_invisible_characters(user, client_for, name):
    response = client_for(user).patch("/api/users/me/", {"name": name}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name"}
    user.refresh_from_db()
    assert user.name.startswith("User ")


@pytest.mark.parametrize(("existing", "twin"), NAME_TWINS)
def test_patch_me_refuses_a_look_alike_of_someone_elses_name(user, client_for, db, existing, twin):
    UserFactory(name=existing)
    response = client_for(user).patch("/api/users/me/", {"name": twin}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_the_stored_spellings_are_canonical(api_client, db):
    response = api_client.post(SIGNUP, body(email="Ｘ@XN--EXMPLE-QTA.com", name="ａｌｉｃｅ"), format="json")
    assert response.status_code == 201
    assert response.json()["user"]["email"] == "x@ex\u00e1mple.com"
    assert response.json()["user"]["name"] == "alice"


def test_a_name_that_grows_past_150_characters_when_normalised_is_400(api_client, db):
    # U+FDFA is one character that NFKC spells out in 18.
    response = api_client.post(SIGNUP, body(name="\ufdfa" * 10), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"name"}


def test_a_domain_idna_refuses_is_400_on_email(api_client, db):
    response = api_client.post(SIGNUP, body(email="x@exa\u200dmple.org"), format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"email"}


@pytest.mark.parametrize(
    "spelling", ["x@ｅｘａｍｐｌｅ.org", "X@EXAMPLE.ORG", "ｘ@example.org", " x@example.org\u00ad"]
)
def test_login_with_a_look_alike_spelling_finds_the_same_account(api_client, db, spelling):
    user = UserFactory(email="x@example.org")
    response = api_client.post("/api/auth/login/", {"email": spelling, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.pk


def test_login_with_a_punycode_domain_finds_the_unicode_account(api_client, db):
    user = UserFactory(email="x@ex\u00e1mple.com")
    response = api_client.post(
        "/api/auth/login/", {"email": "x@xn--exmple-qta.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.pk


def test_login_with_an_unusable_domain_is_a_plain_401(api_client, db):
    UserFactory(email="x@example.org")
    response = api_client.post("/api/auth/login/", {"email": "x@a..b", "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_search_finds_a_name_typed_in_a_look_alike_spelling(user, client_for, db):
    renee = UserFactory(name="Ren\u00e9e")
    found = client_for(user).get("/api/users/", {"search": "ＲＥＮＥ\u0301"}).json()
    results = found if isinstance(found, list) else found["results"]
    assert [row["id"] for row in results] == [renee.pk]


def test_the_database_refuses_a_twin_name_that_skipped_the_service(db):
    UserFactory(name="alice")
    twin = User(email="other@example.org", name="ａｌｉｃｅ")
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_the_database_refuses_a_twin_email_that_skipped_the_service(db):
    UserFactory(email="x@example.org")
    twin = User(email="x@ｅｘａｍｐｌｅ.org", name="Twin")
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_renaming_keeps_the_comparison_key_in_step(user, client_for, db):
    response = client_for(user).patch("/api/users/me/", {"name": "Zoë"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.name_key == "zoë"
    assert UserFactory(name="alice").name_key == "alice"
    # The old name is free again.
    assert client_for(user).patch("/api/users/me/", {"name": "User X"}, format="json").status_code == 200


def test_createsuperuser_refuses_a_look_alike_name(db, monkeypatch):
    UserFactory(name="alice")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG)
    with pytest.raises(CommandError, match="name already exists"):
        call_command("createsuperuser", "--noinput", email="root@example.org", name="ａｌｉｃｅ", verbosity=0)
    assert not User.objects.filter(email="root@example.org").exists()


def test_createsuperuser_refuses_a_look_alike_email(db, monkeypatch):
    UserFactory(email="root@example.org")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG)
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "createsuperuser", "--noinput", email="ROOT@ｅｘａｍｐｌｅ.org", name="Root", verbosity=0
        )


def test_createsuperuser_refuses_an_invisible_name(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG)
    with pytest.raises(CommandError, match="invisible"):
        call_command("createsuperuser", "--noinput", email="root@example.org", name="root\u200b", verbosity=0)
