from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.factories import ActiveSessionFactory, UserFactory

from .conftest import token_for, ws

pytestmark = pytest.mark.django_db(transaction=True)


async def test_no_token_is_closed_with_4001():
    sock = await ws("/ws/presence/")
    assert await sock.close_code() == 4001


async def test_tampered_token_is_closed_with_4001():
    user = await sync_to_async(UserFactory)()
    token = token_for(user)
    sock = await ws("/ws/presence/", token=token[:-4] + "AAAA")
    assert await sock.close_code() == 4001


async def test_expired_token_is_closed_with_4001():
    user = await sync_to_async(UserFactory)()
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    sock = await ws("/ws/presence/", token=str(token))
    assert await sock.close_code() == 4001


async def test_refresh_token_is_not_an_access_token():
    user = await sync_to_async(UserFactory)()
    refresh = await sync_to_async(RefreshToken.for_user)(user)
    sock = await ws("/ws/presence/", token=str(refresh))
    assert await sock.close_code() == 4001


async def test_inactive_user_is_closed_with_4001():
    user = await sync_to_async(UserFactory)()
    token = token_for(user)
    user.is_active = False
    await sync_to_async(user.save)(update_fields=["is_active"])
    sock = await ws("/ws/presence/", token=token)
    assert await sock.close_code() == 4001


@pytest.mark.parametrize("path", ["/ws/chat/{}/", "/ws/session/{}/"])
async def test_non_participant_is_closed_with_4003(path):
    session = await sync_to_async(ActiveSessionFactory)()
    outsider = await sync_to_async(UserFactory)()
    sock = await ws(path.format(session.pk), user=outsider)
    assert await sock.close_code() == 4003


async def test_unknown_session_is_closed_with_4003():
    user = await sync_to_async(UserFactory)()
    sock = await ws("/ws/session/999999/", user=user)
    assert await sock.close_code() == 4003
