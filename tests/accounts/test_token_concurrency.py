"""Refreshes racing each other and revocations on PostgreSQL (real row locks), from threads
released together by a barrier (tests.concurrency.race)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import services
from tests.concurrency import race, race_n
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def refused(token: str) -> bool:
    try:
        services.token_refresh(refresh=token)
    except services.NotAuthenticated:
        return True
    return False


def revoke_every_token_of(user) -> None:
    """tokens_revoke_all without the user's row lock its callers hold: the worst case, where the
    refresh can mint a token after the revocation listed the user's tokens."""
    from django.db import transaction

    with transaction.atomic():
        services.tokens_revoke_all(user=user)


def test_parallel_refreshes_with_one_token_all_get_the_same_new_pair():
    user = UserFactory()
    refresh = services.tokens_for(user=user)["refresh"]

    outcomes = race_n(6, lambda: services.token_refresh(refresh=refresh))

    assert all(isinstance(o, dict) for o in outcomes), outcomes
    assert len({(o["access"], o["refresh"]) for o in outcomes}) == 1
    assert outcomes[0]["refresh"] != refresh
    assert OutstandingToken.objects.filter(user=user).count() == 2  # one new token, not six
    assert not refused(outcomes[0]["refresh"])


def test_parallel_refreshes_over_rest_all_answer_200_with_one_pair():
    from rest_framework.test import APIClient

    user = UserFactory()
    refresh = services.tokens_for(user=user)["refresh"]

    def post():
        response = APIClient().post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
        return response.status_code, response.json()

    outcomes = race_n(4, post)
    assert {status for status, _ in outcomes} == {200}, outcomes
    assert len({(body["access"], body["refresh"]) for _, body in outcomes}) == 1


def test_parallel_first_refreshes_of_a_token_without_a_family_agree_on_one_pair():
    from rest_framework_simplejwt.tokens import RefreshToken

    user = UserFactory()
    legacy = str(RefreshToken.for_user(user))
    outcomes = race_n(4, lambda: services.token_refresh(refresh=legacy))
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    assert len({o["refresh"] for o in outcomes}) == 1


def test_a_reuse_racing_the_legitimate_refresh_still_ends_the_login():
    user = UserFactory()
    first = services.tokens_for(user=user)
    second = services.token_refresh(refresh=first["refresh"])
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        # The thief replays the retired token while the user refreshes with the newest one.
        outcomes = race(
            lambda: services.token_refresh(refresh=first["refresh"]),
            lambda: services.token_refresh(refresh=second["refresh"]),
        )
        assert isinstance(outcomes[0], services.NotAuthenticated)
        # Whichever went first, nothing that came out of the race refreshes any more.
        survivors = [o["refresh"] for o in outcomes if isinstance(o, dict)]
        assert all(refused(token) for token in [second["refresh"], *survivors])


@pytest.mark.parametrize("attempt", range(5))
def test_a_refresh_racing_a_revocation_of_every_token_leaves_the_user_logged_out(attempt):
    user = UserFactory()
    first = services.tokens_for(user=user)
    current = services.token_refresh(refresh=first["refresh"])

    outcomes = race(
        lambda: services.token_refresh(refresh=current["refresh"]), lambda: revoke_every_token_of(user)
    )

    # The refresh either lost (refused) or minted a token the revocation may not have listed;
    # either way, no token of that login refreshes afterwards.
    minted = [o["refresh"] for o in outcomes[:1] if isinstance(o, dict)]
    assert all(refused(token) for token in [first["refresh"], current["refresh"], *minted])


def test_parallel_refreshes_racing_a_logout_leave_nothing_usable():
    from accounts.models import User

    user = UserFactory()
    pair = services.tokens_for(user=user)
    account = User.objects.get(pk=user.pk)
    outcomes = race(
        lambda: services.token_refresh(refresh=pair["refresh"]),
        lambda: services.token_refresh(refresh=pair["refresh"]),
        lambda: services.user_logout(user=account, refresh=pair["refresh"]),
    )
    minted = [o["refresh"] for o in outcomes[:2] if isinstance(o, dict)]
    assert all(refused(token) for token in [pair["refresh"], *minted])
