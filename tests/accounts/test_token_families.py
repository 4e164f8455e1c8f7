"""Refresh rotation with a reuse grace and reuse detection per login (SPEC section 2, RFC 9700):
parallel refreshes with one token get one new pair; a retired token presented after the grace
revokes every token of its login; whatever blacklists a token ends its login."""

from datetime import timedelta

import pytest
import time_machine
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from tests.accounts.test_tokens import LOGOUT, ME, REFRESH
from tests.conftest import bearer
from tests.factories import PASSWORD, UserFactory
from tests.realtime.conftest import ws


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def refreshed(token: str) -> dict:
    response = refresh(token)
    assert response.status_code == 200, response.content
    return response.json()


def usable(pair: dict) -> bool:
    """The access token authenticates and the refresh token refreshes."""
    return bearer(pair["access"]).get(ME).status_code == 200 and refresh(pair["refresh"]).status_code == 200


def login(user) -> dict:
    response = APIClient().post(
        "/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    return response.json()["tokens"]


def revoke_every_token_of(user) -> None:
    """Log out everywhere (password change, reset, deletion): blacklist every OutstandingToken."""
    services.tokens_revoke_all(user=user)


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def test_refreshes_with_one_token_within_the_grace_all_get_the_same_new_pair(clock, tokens):
    _, first = tokens
    answers = [refreshed(first["refresh"])]
    for _ in range(3):
        clock.shift(9)  # the last at 27 s, still within the 30 s counted from the first refresh
        answers.append(refreshed(first["refresh"]))
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["refresh"] != first["refresh"] and answers[0]["access"] != first["access"]
    assert usable(answers[0])


def test_a_straggler_within_the_grace_gets_the_newest_pair_of_its_login(clock, tokens):
    # One tab already refreshed twice; a request that left with the first token still gets a pair
    # that works, not one retired meanwhile.
    _, first = tokens
    second = refreshed(first["refresh"])
    third = refreshed(second["refresh"])
    clock.shift(5)
    assert refreshed(first["refresh"]) == third
    assert usable(third)


def test_a_retired_token_after_the_grace_revokes_every_token_of_its_login(clock, user):
    first, other_device = login(user), login(user)
    second = refreshed(first["refresh"])
    third = refreshed(second["refresh"])
    clock.shift(31)
    response = refresh(first["refresh"])
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    # The thief (or the user) holding the newest token is out too: one of them was not meant to be.
    for token in (third["refresh"], second["refresh"], first["refresh"]):
        assert refresh(token).status_code == 401
    # Another login of the same user is another family and keeps working.
    assert usable(other_device)


def test_the_grace_is_a_setting(clock, settings, tokens):
    settings.JWT_REFRESH_REUSE_GRACE = timedelta(seconds=5)
    _, first = tokens
    second = refreshed(first["refresh"])
    clock.shift(6)
    assert refresh(first["refresh"]).status_code == 401
    assert refresh(second["refresh"]).status_code == 401


def test_without_rotation_the_refresh_token_comes_back_unchanged(clock, settings, tokens):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": False}
    _, first = tokens
    answers = []
    for _ in range(3):
        clock.shift(60)  # far past the grace: without rotation nothing is ever a reuse
        answers.append(refreshed(first["refresh"]))
    assert {answer["refresh"] for answer in answers} == {first["refresh"]}
    assert len({answer["access"] for answer in answers}) == 3  # a fresh access token each time
    assert bearer(answers[-1]["access"]).get(ME).status_code == 200
    assert OutstandingToken.objects.filter(user=tokens[0]).count() == 1  # nothing new was minted


def test_without_rotation_logout_still_ends_the_token(settings, tokens):
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ROTATE_REFRESH_TOKENS": False}
    _, pair = tokens
    assert bearer(pair["access"]).post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 205
    assert refresh(pair["refresh"]).status_code == 401


def test_logout_ends_the_login_even_for_tokens_within_the_grace(clock, tokens):
    _, first = tokens
    second = refreshed(first["refresh"])
    response = bearer(second["access"]).post(LOGOUT, {"refresh": second["refresh"]}, format="json")
    assert response.status_code == 205
    assert refresh(second["refresh"]).status_code == 401
    assert refresh(first["refresh"]).status_code == 401  # the grace does not bring it back


def test_blacklisting_every_token_of_a_user_logs_every_login_out(clock, user):
    phone, laptop = login(user), login(user)
    laptop_next = refreshed(laptop["refresh"])
    revoke_every_token_of(user)
    for token in (phone["refresh"], laptop_next["refresh"], laptop["refresh"]):
        assert refresh(token).status_code == 401
    assert usable(login(user))  # logging in again starts afresh


def test_a_token_minted_after_a_blacklisted_one_in_its_login_is_dead(tokens):
    # A refresh racing a "log out everywhere" may mint a token the revocation did not list; its
    # login has a blacklisted token, so it is refused all the same.
    user, first = tokens
    second = refreshed(first["refresh"])
    BlacklistedToken.objects.get_or_create(token=OutstandingToken.objects.get(token=first["refresh"]))
    assert refresh(second["refresh"]).status_code == 401


def test_a_token_issued_without_a_family_refreshes_and_gets_the_grace(clock, user):
    # Tokens issued before families existed (or by code calling SimpleJWT directly).
    legacy = str(RefreshToken.for_user(user))
    first = refreshed(legacy)
    assert refreshed(legacy) == first
    assert usable(first)
    clock.shift(31)
    assert refresh(legacy).status_code == 401
    assert refresh(first["refresh"]).status_code == 401


def test_a_refused_refresh_changes_nothing(tokens):
    user, pair = tokens
    before = (OutstandingToken.objects.count(), BlacklistedToken.objects.count())
    for bad in ("garbage", pair["access"]):
        assert refresh(bad).status_code == 401
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert refresh(pair["refresh"]).status_code == 401
    assert (OutstandingToken.objects.count(), BlacklistedToken.objects.count()) == before


def test_the_service_refuses_a_reuse_with_not_authenticated(clock, tokens):
    _, first = tokens
    services.token_refresh(refresh=first["refresh"])
    clock.shift(31)
    with pytest.raises(services.NotAuthenticated):
        services.token_refresh(refresh=first["refresh"])


@pytest.mark.django_db(transaction=True)
async def test_the_pair_answered_within_the_grace_opens_sockets():
    try:
        user = await sync_to_async(UserFactory)()
        first = await sync_to_async(services.tokens_for)(user=user)
        await sync_to_async(refreshed)(first["refresh"])
        again = await sync_to_async(refreshed)(first["refresh"])
        sock = await ws("/ws/presence/", token=again["access"])
        assert (await sock.recv())["type"] == "online_users"
        await sock.close()
    finally:
        # The worker thread's connection would keep PostgreSQL from dropping the test database.
        await sync_to_async(connections.close_all)()
