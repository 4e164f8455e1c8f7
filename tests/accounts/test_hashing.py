"""Passwords: Argon2id with OWASP's parameters in production, old PBKDF2 hashes upgraded at the
next login, and never hashed while a database transaction (and on SQLite, the lock) is open.

The suite itself runs on a fast hasher (tests/conftest.py); these tests switch the production
list back on."""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password, identify_hasher, make_password
from django.db import connection

import accounts.services
from accounts.hashers import Argon2idHasher
from accounts.models import User
from linklearn import settings as project_settings
from tests.factories import PASSWORD, UserFactory

ARGON2ID_OWASP = "argon2$argon2id$v=19$m=7168,t=5,p=1$"


@pytest.fixture
def production_hashers(settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS


def test_the_production_default_is_argon2id_with_owasp_parameters(production_hashers):
    assert project_settings.PASSWORD_HASHERS[0] == "accounts.hashers.Argon2idHasher"
    encoded = make_password("plum-Tarmac-88-voyage")
    assert encoded.startswith(ARGON2ID_OWASP)
    assert check_password("plum-Tarmac-88-voyage", encoded)
    assert not check_password("plum-Tarmac-88-voyagE", encoded)


def test_a_pbkdf2_hash_is_upgraded_to_argon2id_at_the_next_login(production_hashers, db, api_client):
    # A hash as an earlier release stored it (fewer iterations keep the test fast; any PBKDF2
    # hash is upgraded the same way).
    old = PBKDF2PasswordHasher().encode(PASSWORD, "somesalt1234", iterations=1000)
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(password=old)

    wrong = api_client.post("/api/auth/login/", {"email": user.email, "password": "not-it"}, format="json")
    assert wrong.status_code == 401
    user.refresh_from_db()
    assert user.password == old  # a failed login changes nothing

    ok = api_client.post("/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert ok.status_code == 200
    user.refresh_from_db()
    assert user.password.startswith(ARGON2ID_OWASP)
    assert identify_hasher(user.password).algorithm == "argon2"
    again = api_client.post("/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert again.status_code == 200


def test_an_argon2_hash_with_other_parameters_is_upgraded_too(production_hashers, db, api_client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = UserFactory()  # Django's own defaults: m=100 MiB, p=8
    assert "m=102400" in User.objects.get(pk=user.pk).password
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    assert api_client.post("/api/auth/login/", {"email": user.email, "password": PASSWORD}).status_code == 200
    assert User.objects.get(pk=user.pk).password.startswith(ARGON2ID_OWASP)


def test_signup_hashes_before_its_transaction(signup_body, api_client, monkeypatch):
    depth_outside = len(connection.atomic_blocks)
    seen = []
    real = accounts.services.make_password

    def recording(password):
        seen.append(len(connection.atomic_blocks))
        return real(password)

    monkeypatch.setattr(accounts.services, "make_password", recording)
    assert api_client.post("/api/auth/signup/", signup_body, format="json").status_code == 201
    assert seen == [depth_outside]
    assert User.objects.get(email="ada@example.com").check_password(signup_body["password"])


def test_a_hash_with_our_earlier_owasp_parameters_is_upgraded(production_hashers, db, api_client):
    # m=19 MiB, t=2 was the default before m=7 MiB, t=5 (an equally strong OWASP configuration).
    earlier = Argon2idHasher()
    earlier.memory_cost, earlier.time_cost = 19 * 1024, 2
    old = earlier.encode(PASSWORD, earlier.salt())
    assert old.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(password=old)

    wrong = api_client.post("/api/auth/login/", {"email": user.email, "password": "not-it"}, format="json")
    assert wrong.status_code == 401
    assert User.objects.get(pk=user.pk).password == old  # a failed login changes nothing

    ok = api_client.post("/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert ok.status_code == 200
    upgraded = User.objects.get(pk=user.pk).password
    assert upgraded.startswith(ARGON2ID_OWASP)
    assert check_password(PASSWORD, upgraded)
    again = api_client.post("/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json")
    assert again.status_code == 200
    assert User.objects.get(pk=user.pk).password == upgraded  # current parameters: not re-hashed
