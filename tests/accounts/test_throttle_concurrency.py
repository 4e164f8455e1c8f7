"""Throttles hold under parallel requests: every attempt reserves its place in the count before
the slow part (password hash, user creation) runs, so N racers can't all read "under the limit"."""

import itertools

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.concurrency import race_n
from tests.factories import UserFactory

from .conftest import STRONG

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_wrong_passwords_check_at_most_the_limit(settings, throttle_rates):
    throttle_rates(login_failures_account="3/15min")
    # A real (slow) hash widens the gap between reading the count and recording the failure.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = UserFactory()

    def guess():
        body = {"email": user.email, "password": "wrong-guess"}
        return APIClient().post("/api/auth/login/", body, format="json").status_code

    codes = race_n(12, guess)
    assert codes.count(401) == 3
    assert codes.count(429) == 9


def test_parallel_signups_from_one_address_create_at_most_the_limit(throttle_rates):
    throttle_rates(signup="3/hour")
    numbers = itertools.count()  # next() on it is atomic, unlike on a generator

    def signup():
        n = next(numbers)
        body = {"email": f"u{n}@example.com", "name": f"U{n}", "password": STRONG, "password_confirm": STRONG}
        return APIClient().post("/api/auth/signup/", body, format="json").status_code

    codes = race_n(12, signup)
    assert codes.count(201) == 3
    assert codes.count(429) == 9
    assert User.objects.count() == 3
