"""POST auth/password/change/: old password checked (and throttled like logins), the new one
validated, every earlier refresh token revoked, a fresh pair returned."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import services
from accounts.models import User
from tests.conftest import bearer
from tests.factories import PASSWORD

CHANGE = "/api/auth/password/change/"
REFRESH = "/api/auth/token/refresh/"
LOGIN = "/api/auth/login/"
NEW = "lantern-Oyster-41-quarry"


def change(access: str, old=PASSWORD, new=NEW, confirm=None):
    body = {
        "old_password": old,
        "new_password": new,
        "new_password_confirm": new if confirm is None else confirm,
    }
    return bearer(access).post(CHANGE, body, format="json")


def login(email, password):
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json")


@pytest.fixture
def devices(tokens):
    """The user signed in on two devices: two independent token pairs."""
    user, first = tokens
    second = login(user.email, PASSWORD).json()["tokens"]
    return user, first, second


def test_change_answers_a_new_pair_and_the_new_password_works(devices):
    user, phone, _ = devices
    response = change(phone["access"])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"tokens"} and set(body["tokens"]) == {"access", "refresh"}
    assert bearer(body["tokens"]["access"]).get("/api/users/me/").status_code == 200
    assert APIClient().post(REFRESH, {"refresh": body["tokens"]["refresh"]}, format="json").status_code == 200
    assert login(user.email, NEW).status_code == 200
    assert login(user.email, PASSWORD).status_code == 401


def test_change_revokes_every_earlier_refresh_token_the_callers_own_included(devices):
    _, phone, laptop = devices
    assert change(phone["access"]).status_code == 200
    for pair in (phone, laptop):
        response = APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json")
        assert response.status_code == 401


def test_wrong_old_password_is_400_on_old_password_and_changes_nothing(devices):
    user, phone, laptop = devices
    response = change(phone["access"], old="not-my-password")
    assert response.status_code == 400
    assert set(response.json()) == {"old_password"}
    assert login(user.email, PASSWORD).status_code == 200
    assert APIClient().post(REFRESH, {"refresh": laptop["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize(
    ("new", "confirm", "field"),
    [
        ("short", "short", "new_password"),
        ("12345678901", "12345678901", "new_password"),
        ("password123", "password123", "new_password"),
        (NEW, NEW + "x", "new_password_confirm"),
    ],
    ids=["too-short", "all-digits", "common", "mismatch"],
)
def test_a_new_password_the_validators_refuse_is_400_and_changes_nothing(devices, new, confirm, field):
    user, phone, _ = devices
    response = change(phone["access"], new=new, confirm=confirm)
    assert response.status_code == 400
    assert field in response.json()
    assert login(user.email, PASSWORD).status_code == 200


def test_a_new_password_like_the_email_is_refused(devices):
    user, phone, _ = devices
    like_email = user.email.split("@")[0] + "!"
    response = change(phone["access"], new=like_email)
    assert response.status_code == 400 and "new_password" in response.json()


@pytest.mark.parametrize("missing", ["old_password", "new_password", "new_password_confirm"])
def test_missing_fields_are_400(tokens, missing):
    _, pair = tokens
    body = {"old_password": PASSWORD, "new_password": NEW, "new_password_confirm": NEW}
    del body[missing]
    response = bearer(pair["access"]).post(CHANGE, body, format="json")
    assert response.status_code == 400 and missing in response.json()


def test_change_needs_a_token(api_client, db):
    body = {"old_password": PASSWORD, "new_password": NEW, "new_password_confirm": NEW}
    assert api_client.post(CHANGE, body, format="json").status_code == 401


def test_repeated_wrong_old_passwords_are_throttled_and_then_refuse_even_the_right_one(
    tokens, throttle_rates
):
    throttle_rates(login_failures_account="3/hour")
    user, pair = tokens
    assert [change(pair["access"], old=f"wrong-{i}").status_code for i in range(3)] == [400, 400, 400]
    response = change(pair["access"])
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_wrong_old_passwords_share_the_failed_login_count(tokens, throttle_rates):
    throttle_rates(login_failures_account="3/hour")
    user, pair = tokens
    for i in range(2):
        assert login(user.email, f"wrong-{i}").status_code == 401
    assert change(pair["access"], old="wrong-again").status_code == 400
    assert login(user.email, PASSWORD).status_code == 429  # a stolen access token can't guess faster


@pytest.mark.django_db(transaction=True)  # else the test itself runs inside a transaction
def test_the_password_is_hashed_outside_any_transaction(tokens, monkeypatch):
    from django.contrib.auth import hashers
    from django.db import connection

    user, pair = tokens
    seen = []
    real = hashers.make_password

    def spy(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "make_password", spy)
    assert change(pair["access"]).status_code == 200
    assert seen == [False]


def test_revoking_all_tokens_is_one_service_that_covers_every_issued_token(user):
    from rest_framework_simplejwt.tokens import RefreshToken

    for _ in range(3):
        RefreshToken.for_user(user)
    assert services.tokens_revoke_all(user=user) == 3
    assert services.tokens_revoke_all(user=user) == 0  # already revoked: nothing left to do
    assert not OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).exists()
