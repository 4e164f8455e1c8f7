import pytest

from tests.factories import PASSWORD, UserFactory

STRONG = "plum-Tarmac-88-voyage"


@pytest.fixture
def throttle_rates(settings):
    """`throttle_rates(login_failures_account="2/hour")` lowers rates for one test.

    The accounts throttles read REST_FRAMEWORK at request time, so the settings fixture suffices.
    """

    def set_rates(**rates):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }

    return set_rates


@pytest.fixture
def signup_body(db):
    return {"email": "ada@example.com", "name": "Ada", "password": STRONG, "password_confirm": STRONG}


@pytest.fixture
def login(api_client):
    def do(email, password=PASSWORD, **extra):
        return api_client.post(
            "/api/auth/login/", {"email": email, "password": password}, format="json", **extra
        )

    return do


@pytest.fixture
def tokens(db):
    """A user and a fresh token pair obtained through the login endpoint."""
    from rest_framework.test import APIClient

    user = UserFactory()
    response = APIClient().post(
        "/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    return user, response.json()["tokens"]


@pytest.fixture
def sent_mail(mailoutbox):
    """`sent_mail()` is the list of mails sent so far, once the sending thread is done."""
    from accounts.mail import wait_for_mail

    def sent():
        wait_for_mail()
        return list(mailoutbox)

    yield sent
    wait_for_mail()  # nothing of this test may land in the next one's outbox
