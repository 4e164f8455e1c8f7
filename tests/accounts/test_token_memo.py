"""Access tokens validated once per process (accounts.authentication.ValidatedTokens): a client
sending the same token again is answered as before, including every refusal."""

import base64
import json
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.authentication import ValidatedTokens, validated_tokens
from accounts.models import User
from tests.conftest import b64url_json, bearer

ME = "/api/users/me/"
SESSIONS = "/api/sessions/"


@pytest.mark.parametrize("path", [ME, SESSIONS])
def test_a_token_seen_before_is_refused_once_it_expires_with_the_usual_answer(tokens, path):
    _, pair = tokens
    assert bearer(pair["access"]).get(path).status_code == 200
    later = timezone.now() + timedelta(minutes=31)
    with time_machine.travel(later, tick=False):
        seen = bearer(pair["access"]).get(path)
        validated_tokens.clear()
        unseen = bearer(pair["access"]).get(path)
    assert seen.status_code == unseen.status_code == 401
    assert seen.content == unseen.content
    assert seen.headers["WWW-Authenticate"] == unseen.headers["WWW-Authenticate"]


def test_a_token_seen_before_still_works_until_it_expires(tokens):
    _, pair = tokens
    assert bearer(pair["access"]).get(ME).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=29)):
        assert bearer(pair["access"]).get(ME).status_code == 200


def test_a_token_seen_before_does_not_vouch_for_a_tampered_copy(tokens):
    _, pair = tokens
    assert bearer(pair["access"]).get(ME).status_code == 200
    header, payload, signature = pair["access"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = "999"
    assert bearer(".".join([header, b64url_json(claims), signature])).get(ME).status_code == 401
    assert bearer(pair["access"] + "x").get(ME).status_code == 401
    assert bearer(pair["access"]).get(ME).status_code == 200


@pytest.mark.parametrize("path", [ME, SESSIONS, "/api/posts/"])  # the three loaders
def test_a_user_deactivated_after_their_token_was_seen_loses_access_at_once(tokens, path):
    user, pair = tokens
    assert bearer(pair["access"]).get(path).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert bearer(pair["access"]).get(path).status_code == 401
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert bearer(pair["access"]).get(path).status_code == 200


def test_a_refresh_token_is_refused_as_an_access_token_every_time(tokens):
    _, pair = tokens
    validated_tokens.clear()  # whatever earlier tests left: only this test's tokens count
    for _ in range(3):
        assert bearer(pair["refresh"]).get(ME).status_code == 401
    assert len(validated_tokens) == 0


def test_a_token_seen_before_is_not_decoded_again(tokens):
    _, pair = tokens
    assert bearer(pair["access"]).get(ME).status_code == 200
    with mock.patch.object(token_backend, "decode", wraps=token_backend.decode) as decode:
        for _ in range(3):
            assert bearer(pair["access"]).get(ME).status_code == 200
    assert decode.call_count == 0


def test_only_stateless_token_classes_are_kept():
    # A token class that checks SimpleJWT's blacklist is checked against it at every use.
    assert ValidatedTokens.keepable(AccessToken)
    assert not ValidatedTokens.keepable(RefreshToken)


def test_the_memo_keeps_the_most_recently_used_tokens_up_to_its_size(user):
    memo = ValidatedTokens(size=2)
    raw = [str(RefreshToken.for_user(user).access_token).encode() for _ in range(3)]
    for token in raw[:2]:
        memo.keep(token, AccessToken(token))
    assert memo.get(raw[0]) is not None  # raw[1] is now the least recently used
    memo.keep(raw[2], AccessToken(raw[2]))
    assert len(memo) == 2
    assert memo.get(raw[1]) is None
    kept = memo.get(raw[0])
    assert kept is not None and kept.payload == AccessToken(raw[0]).payload
    assert memo.get(raw[2]).token == raw[2]


def test_a_kept_token_is_a_fresh_object_each_time(user):
    memo = ValidatedTokens(size=2)
    raw = str(RefreshToken.for_user(user).access_token).encode()
    memo.keep(raw, AccessToken(raw))
    first = memo.get(raw)
    first["user_id"] = "999"
    assert memo.get(raw)["user_id"] == str(user.pk)
