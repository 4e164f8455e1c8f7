"""Account lifecycle races that only real PostgreSQL row locks and concurrent connections show."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import services
from accounts.models import User
from common.errors import Invalid
from ledger.models import Transfer
from ledger.selectors import balance_of
from tests.concurrency import race, race_n
from tests.factories import PASSWORD, UserFactory
from tests.tutoring.conftest import api, taught_session, url
from tutoring import services as tutoring
from tutoring.models import Session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NEW = "lantern-Oyster-41-quarry"


@pytest.fixture
def taught():
    """Alice taught Bob for 600 s (2.00 credits) in a session neither has ended yet."""
    alice, bob = UserFactory(name="Alice"), UserFactory(name="Bob")
    return taught_session(alice, bob, minutes=10), alice, bob


def test_deleting_while_the_other_participant_ends_the_session_settles_it_once(taught):
    session, alice, bob = taught
    bob_client, alice_client = api(bob), api(alice)
    responses = race(
        lambda: bob_client.delete("/api/users/me/", {"password": PASSWORD}, format="json"),
        lambda: alice_client.post(url(session, "end/")),
    )
    deleted, ended = responses
    assert deleted.status_code == 204
    assert ended.status_code in (200, 409)  # 409: the deletion ended it first
    session.refresh_from_db()
    assert session.status == Session.Status.COMPLETED
    assert Transfer.objects.filter(session_id=session.pk).count() == 2  # payment and cut, once
    assert balance_of(user=alice) == Decimal("16.80")
    assert balance_of(user=User.objects.get(pk=bob.pk)) == Decimal("13.00")
    assert not User.objects.get(pk=bob.pk).is_active
    call_command("ledger_check", verbosity=0)


def test_two_deletions_at_once_delete_once(taught):
    session, _, bob = taught
    results = race_n(3, lambda: services.account_delete(user=bob))
    assert sorted(results) == [False, False, True]
    assert Transfer.objects.filter(session_id=session.pk).count() == 2
    call_command("ledger_check", verbosity=0)


def test_an_invitation_racing_the_deletion_never_leaves_an_unfinished_session(db, monkeypatch):
    """The invitation arrives right after the deletion listed the sessions it must end."""
    import threading

    leaving, inviter = UserFactory(), UserFactory()
    listed, invited = threading.Event(), threading.Event()
    real_listing = services.unfinished_session_ids_of

    def listing_then_pause(user):
        ids = real_listing(user)
        listed.set()
        invited.wait(timeout=2)  # without the row lock the invitation lands in this gap
        return ids

    monkeypatch.setattr(services, "unfinished_session_ids_of", listing_then_pause)

    def invite():
        listed.wait(timeout=10)
        try:
            return tutoring.session_create(creator=inviter, invitee_id=leaving.pk)
        finally:
            invited.set()

    deleted, invitation = race(lambda: services.account_delete(user=leaving), invite)
    assert deleted is True
    assert isinstance(invitation, Invalid)  # it waited for the deletion, then found no such user
    assert not Session.objects.filter(user2=leaving, status__in=Session.UNFINISHED).exists()


def test_one_reset_token_used_twice_at_once_sets_the_password_once(user):
    from django.contrib.auth.tokens import default_token_generator

    uid, token = services.password_reset_uid(user), default_token_generator.make_token(user)

    def confirm(password):
        body = {"uid": uid, "token": token, "new_password": password, "new_password_confirm": password}
        return APIClient().post("/api/auth/password/reset/confirm/", body, format="json").status_code

    statuses = race(lambda: confirm(NEW), lambda: confirm("other-Harbor-52-violet"))
    assert sorted(statuses) == [200, 400]
    fresh = User.objects.get(pk=user.pk)
    assert fresh.check_password(NEW) != fresh.check_password("other-Harbor-52-violet")


def test_a_refresh_racing_a_password_change_leaves_no_old_token_alive(user):
    for _ in range(5):
        pair = services.tokens_for(user=user)
        fresh = User.objects.get(pk=user.pk)
        old = PASSWORD if fresh.check_password(PASSWORD) else NEW
        new = NEW if old == PASSWORD else PASSWORD
        changed, _ = race(
            lambda fresh=fresh, old=old, new=new: services.password_change(
                user=fresh, old_password=old, new_password=new
            ),
            lambda pair=pair: services.token_refresh(refresh=pair["refresh"]),
        )
        # Only the pair the change answered may still refresh: whatever the refresh got was
        # issued before the change (and revoked by it) or refused after it.
        live = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
        assert list(live.values_list("token", flat=True)) == [changed["refresh"]]
