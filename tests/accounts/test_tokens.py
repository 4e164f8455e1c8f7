import base64
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.conftest import b64url_json, bearer

REFRESH = "/api/auth/token/refresh/"
LOGOUT = "/api/auth/logout/"
ME = "/api/users/me/"


def test_refresh_returns_a_new_pair(api_client, tokens):
    _, pair = tokens
    response = api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 200
    new = response.json()
    assert set(new) == {"access", "refresh"}
    assert new["refresh"] != pair["refresh"]
    assert bearer(new["access"]).get(ME).status_code == 200


def test_rotated_refresh_token_works(api_client, tokens):
    _, pair = tokens
    second = api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").json()["refresh"]
    assert api_client.post(REFRESH, {"refresh": second}, format="json").status_code == 200


# A blank or null field is invalid input (400); a token that is there but unusable is an invalid
# token, which the SPEC answers with 401.
@pytest.mark.parametrize(
    ("value", "status"),
    [("garbage", 401), ("a.b.c", 401), ("", 400), (None, 400)],
    ids=["garbage", "a.b.c", "empty", "null"],
)
def test_malformed_refresh_is_refused_without_500(api_client, db, value, status):
    response = api_client.post(REFRESH, {"refresh": value}, format="json")
    assert response.status_code == status


def test_access_token_is_not_accepted_as_refresh(api_client, tokens):
    _, pair = tokens
    assert api_client.post(REFRESH, {"refresh": pair["access"]}, format="json").status_code == 401


def test_refresh_of_a_deactivated_user_is_refused(api_client, tokens):
    user, pair = tokens
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_expired_refresh_is_refused(api_client, tokens):
    _, pair = tokens
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_refresh_is_throttled(api_client, tokens, throttle_rates):
    _, pair = tokens
    throttle_rates(token_refresh="1/min")
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200
    assert api_client.post(REFRESH, {"refresh": "x"}, format="json").status_code == 429


def test_logout_revokes_the_refresh_token(tokens):
    _, pair = tokens
    response = bearer(pair["access"]).post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 205
    assert APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_logout_twice_is_harmless(tokens):
    _, pair = tokens
    client = bearer(pair["access"])
    client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 205


def test_logout_needs_authentication(api_client, tokens):
    _, pair = tokens
    assert api_client.post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 401
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200


def test_logout_with_someone_elses_refresh_token_revokes_nothing(tokens, other_user, client_for):
    _, pair = tokens
    response = client_for(other_user).post(LOGOUT, {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 403
    assert APIClient().post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200


# A number is not a string: refused as a field error, like a missing token.
@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"refresh": "garbage"}, 401), ({"refresh": 5}, 400)],
    ids=["missing", "garbage", "not-string"],
)
def test_logout_with_bad_refresh_is_4xx(user, client_for, body, status):
    assert client_for(user).post(LOGOUT, body, format="json").status_code == status


def test_tampered_access_token_is_401(tokens):
    _, pair = tokens
    header, payload, signature = pair["access"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = "999"
    forged = ".".join([header, b64url_json(claims), signature])
    assert bearer(forged).get(ME).status_code == 401


def test_alg_none_token_is_401(tokens):
    user, pair = tokens
    claims = RefreshToken.for_user(user).access_token.payload
    unsigned = ".".join([b64url_json({"alg": "none", "typ": "JWT"}), b64url_json(claims), ""])
    assert bearer(unsigned).get(ME).status_code == 401


def test_expired_access_token_is_401(tokens):
    _, pair = tokens
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert bearer(pair["access"]).get(ME).status_code == 401


def test_refresh_token_is_not_an_access_token(tokens):
    _, pair = tokens
    assert bearer(pair["refresh"]).get(ME).status_code == 401


def test_no_token_is_401(api_client, db):
    assert api_client.get(ME).status_code == 401
