from decimal import Decimal

import pytest

from accounts.models import User
from ledger.models import Transfer
from tests.factories import UserFactory

from .conftest import STRONG

URL = "/api/auth/signup/"


def test_signup_returns_the_user_and_tokens(api_client, signup_body):
    response = api_client.post(URL, signup_body, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["name"] == "Ada"
    assert body["user"]["credits"] == "15.00"
    assert body["user"]["average_rating"] is None
    assert body["user"]["total_reviews"] == 0
    assert body["user"]["is_online"] is False
    assert set(body["tokens"]) == {"access", "refresh"}
    assert "password" not in body["user"]


def test_signup_tokens_work(api_client, signup_body):
    tokens = api_client.post(URL, signup_body, format="json").json()["tokens"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get("/api/users/me/").json()["email"] == "ada@example.com"


def test_signup_answers_the_same_profile_as_users_me(api_client, signup_body, django_assert_max_num_queries):
    # The signup answer is built without reading the new user back (accounts.selectors.
    # user_me_just_created): it must still be exactly what users/me shows them.
    with django_assert_max_num_queries(25):  # 29 before the signup stopped reading the user back
        response = api_client.post(URL, signup_body, format="json")
    assert response.status_code == 201
    body = response.json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['tokens']['access']}")
    assert api_client.get("/api/users/me/").json() == body["user"]


def test_signup_grants_fifteen_credits_once(api_client, signup_body):
    api_client.post(URL, signup_body, format="json")
    user = User.objects.get(email="ada@example.com")
    assert user.ledger_account.balance == Decimal("15.00")
    assert Transfer.objects.filter(destination__user=user, kind=Transfer.Kind.SIGNUP).count() == 1


def test_email_is_stored_lower_case_and_trimmed(api_client, signup_body):
    signup_body["email"] = "  Ada.Lovelace@Example.COM "
    response = api_client.post(URL, signup_body, format="json")
    assert response.status_code == 201
    assert User.objects.filter(email="ada.lovelace@example.com").exists()


def test_name_is_trimmed(api_client, signup_body):
    signup_body["name"] = "  Ada  "
    assert api_client.post(URL, signup_body, format="json").json()["user"]["name"] == "Ada"


@pytest.mark.parametrize(
    ("field", "existing", "submitted"),
    [("email", "ada@example.com", "ADA@Example.com"), ("name", "Ada", "aDA")],
)
def test_duplicate_in_another_case_is_refused(api_client, signup_body, db, field, existing, submitted):
    UserFactory(**{field: existing})
    signup_body[field] = submitted
    response = api_client.post(URL, signup_body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901", "ada@example.com"])
def test_weak_passwords_are_refused(api_client, signup_body, password):
    signup_body.update(password=password, password_confirm=password)
    response = api_client.post(URL, signup_body, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
    assert not User.objects.exists()


def test_password_similar_to_the_name_is_refused(api_client, signup_body):
    signup_body.update(
        name="Marguerite Yourcenar", password="marguerite yourcenar", password_confirm="marguerite yourcenar"
    )
    assert api_client.post(URL, signup_body, format="json").status_code == 400


def test_mismatched_confirmation_is_refused(api_client, signup_body):
    signup_body["password_confirm"] = STRONG + "x"
    response = api_client.post(URL, signup_body, format="json")
    assert response.status_code == 400
    assert "password_confirm" in response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize("field", ["email", "name", "password", "password_confirm"])
def test_missing_field_is_refused(api_client, signup_body, field):
    del signup_body[field]
    response = api_client.post(URL, signup_body, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("name", ["", "   ", "x" * 151], ids=["empty", "blank", "too-long"])
def test_bad_names_are_refused(api_client, signup_body, name):
    signup_body["name"] = name
    assert api_client.post(URL, signup_body, format="json").status_code == 400


def test_name_of_150_characters_is_accepted(api_client, signup_body):
    signup_body["name"] = "n" * 150
    assert api_client.post(URL, signup_body, format="json").status_code == 201


@pytest.mark.parametrize("email", ["not-an-email", "", "a@b"], ids=["no-at", "empty", "no-dot"])
def test_invalid_emails_are_refused(api_client, signup_body, email):
    signup_body["email"] = email
    assert api_client.post(URL, signup_body, format="json").status_code == 400


def test_extra_fields_cannot_make_a_staff_user(api_client, signup_body):
    signup_body.update(is_staff=True, is_superuser=True, credits="1000.00")
    body = api_client.post(URL, signup_body, format="json").json()
    user = User.objects.get()
    assert not user.is_staff and not user.is_superuser
    assert body["user"]["credits"] == "15.00"


def test_non_object_body_is_refused(api_client):
    assert api_client.post(URL, ["a", "b"], format="json").status_code == 400


def test_stale_bearer_token_does_not_block_signup(api_client, signup_body):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.post(URL, signup_body, format="json").status_code == 201


def test_signup_is_throttled_per_ip(api_client, throttle_rates, db):
    throttle_rates(signup="2/hour")
    statuses = []
    for n in range(3):
        body = {"email": f"u{n}@example.com", "name": f"U{n}", "password": STRONG, "password_confirm": STRONG}
        statuses.append(api_client.post(URL, body, format="json").status_code)
    assert statuses == [201, 201, 429]
    assert User.objects.count() == 2


def test_signup_throttle_does_not_affect_other_ips(api_client, throttle_rates, db):
    throttle_rates(signup="1/hour")
    body = {"email": "u1@example.com", "name": "U1", "password": STRONG, "password_confirm": STRONG}
    assert api_client.post(URL, body, format="json", REMOTE_ADDR="10.0.0.1").status_code == 201
    body.update(email="u2@example.com", name="U2")
    assert api_client.post(URL, body, format="json", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert api_client.post(URL, body, format="json", REMOTE_ADDR="10.0.0.2").status_code == 201
