"""Inputs that must be refused with a clear 4xx, changing nothing: races lost, oversize fields,
tokens whose record is gone."""

import pytest
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import services
from accounts.models import User
from tests.factories import UserFactory

from .conftest import STRONG

SIGNUP = "/api/auth/signup/"
REFRESH = "/api/auth/token/refresh/"
ME = "/api/users/me/"


@pytest.fixture
def blind_uniqueness_check(monkeypatch):
    # What the loser of a race sees: the pre-check found nothing, the unique index refuses.
    monkeypatch.setattr(services, "user_ensure_free", lambda **kwargs: None)


@pytest.mark.parametrize(
    ("field", "taken"), [("email", {"email": "ada@example.com"}), ("name", {"name": "Ada"})]
)
def test_signup_losing_the_race_for_a_unique_field_is_409(
    api_client, signup_body, blind_uniqueness_check, field, taken
):
    UserFactory(**taken)
    response = api_client.post(SIGNUP, signup_body, format="json")
    assert response.status_code == 409
    assert User.objects.count() == 1


def test_rename_losing_the_race_for_a_name_is_409(user, other_user, client_for, blind_uniqueness_check):
    response = client_for(user).patch(ME, {"name": other_user.name}, format="json")
    assert response.status_code == 409
    assert User.objects.get(pk=user.pk).name == user.name


def test_refresh_whose_record_is_gone_is_401(api_client, tokens):
    _, pair = tokens
    OutstandingToken.objects.all().delete()
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_signup_email_over_254_characters_is_400(api_client, signup_body):
    signup_body["email"] = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example.com"
    assert len(signup_body["email"]) > 254
    response = api_client.post(SIGNUP, signup_body, format="json")
    assert response.status_code == 400
    assert "email" in response.json()
    assert not User.objects.exists()


def test_signup_password_over_4096_characters_is_400(api_client, signup_body):
    signup_body["password"] = signup_body["password_confirm"] = STRONG + "x" * 4096
    response = api_client.post(SIGNUP, signup_body, format="json")
    assert response.status_code == 400
    assert "password" in response.json()
    assert not User.objects.exists()


def test_refresh_token_over_4096_characters_is_400(api_client, db):
    assert api_client.post(REFRESH, {"refresh": "a" * 4097}, format="json").status_code == 400


def test_availability_of_exactly_255_characters_is_accepted(user, client_for):
    response = client_for(user).patch(ME, {"availability": "a" * 255}, format="json")
    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).availability == "a" * 255


def test_availability_of_256_characters_is_refused(user, client_for):
    assert client_for(user).patch(ME, {"availability": "a" * 256}, format="json").status_code == 400
    assert User.objects.get(pk=user.pk).availability == user.availability


def test_deactivated_users_are_left_out_of_search(user, client_for):
    gone = UserFactory(name="Zebedee Gone")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    UserFactory(name="Zebedee Here")
    names = [u["name"] for u in client_for(user).get("/api/users/", {"search": "zebedee"}).json()]
    assert names == ["Zebedee Here"]
    assert gone.name not in names


@pytest.mark.parametrize("pk", [10**30, 2**70])
def test_reviews_of_a_huge_user_id_are_404(user, client_for, pk):
    assert client_for(user).get(f"/api/users/{pk}/reviews/").status_code == 404


@pytest.mark.parametrize(
    "raw",
    [b'{"availability": 1e400}', b'{"availability": 5}', b'{"availability": true}', b'{"name": 12}'],
    ids=["1e400", "number", "boolean", "numeric-name"],
)
def test_a_non_string_into_a_string_field_is_400_and_changes_nothing(user, client_for, raw):
    response = client_for(user).generic("PATCH", ME, raw, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) <= {"availability", "name"} and response.json()
    user.refresh_from_db()
    assert (user.availability, user.name.startswith("User ")) == ("Evenings", True)


@pytest.mark.parametrize("field", ["email", "name", "password", "password_confirm"])
def test_signup_with_a_number_in_a_string_field_is_400_on_that_field(api_client, signup_body, field):
    signup_body[field] = 12345678901234
    response = api_client.post(SIGNUP, signup_body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.exists()
