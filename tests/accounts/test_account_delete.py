"""DELETE users/me/: the account is anonymised and deactivated, its sessions ended and settled
exactly as `end/`, its tokens revoked, the ledger untouched (SPEC "Deleting an account")."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services
from accounts.models import User
from ledger.models import Transfer
from ledger.selectors import balance_of
from presence.services import connection_open
from reviews.models import Review
from tests.factories import PASSWORD, CompletedSessionFactory, LearningPostFactory, UserFactory
from tutoring import services as tutoring
from tutoring.models import Session, TeachingTimer

ME = "/api/users/me/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def client(user) -> APIClient:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(days=365))  # outlives the hours the clock travels
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def delete_me(user, password=PASSWORD, **extra):
    body = {} if password is None else {"password": password}
    return client(user).delete(ME, body, format="json", **extra)


def login(email, password=PASSWORD):
    return APIClient().post("/api/auth/login/", {"email": email, "password": password}, format="json")


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["wrong-password", "", None], ids=["wrong", "blank", "missing"])
def test_a_wrong_or_missing_password_is_400_on_password_and_changes_nothing(user, password):
    response = delete_me(user, password)
    assert response.status_code == 400
    assert set(response.json()) == {"password"}
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.email, fresh.name, fresh.is_active, fresh.deleted_at) == (user.email, user.name, True, None)
    assert login(user.email).status_code == 200


def test_repeated_wrong_passwords_are_throttled_like_failed_logins(user, throttle_rates):
    throttle_rates(login_failures_account="2/hour")
    assert [delete_me(user, "wrong").status_code for _ in range(2)] == [400, 400]
    response = delete_me(user)  # even the right one, until the window ends
    assert response.status_code == 429
    assert User.objects.get(pk=user.pk).is_active


def test_deleting_needs_a_token(api_client, user):
    assert api_client.delete(ME, {"password": PASSWORD}, format="json").status_code == 401


# --- what deleting does ---------------------------------------------------------------------


def test_the_row_is_kept_anonymised_and_deactivated(user):
    email, name = user.email, user.name
    assert delete_me(user).status_code == 204
    gone = User.objects.get(pk=user.pk)
    assert gone.email == f"deleted-{user.pk}@invalid"
    assert gone.name == f"Deleted user {user.pk}"
    assert gone.availability == ""
    assert not gone.is_active and gone.deleted_at is not None
    assert not gone.has_usable_password()
    assert not User.objects.filter(email=email).exists() and not User.objects.filter(name=name).exists()


def test_every_token_is_revoked_and_the_access_token_stops_working(user):
    pair = login(user.email).json()["tokens"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert api.delete(ME, {"password": PASSWORD}, format="json").status_code == 204
    assert api.get(ME).status_code == 401
    refreshed = APIClient().post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json")
    assert refreshed.status_code == 401
    assert login(user.email).status_code == 401


def test_the_ledger_is_untouched_and_reconciles(user, other_user):
    transfers = Transfer.objects.count()
    assert delete_me(user).status_code == 204
    assert Transfer.objects.count() == transfers
    assert balance_of(user=User.objects.get(pk=user.pk)) == Decimal("15.00")  # still in the totals
    call_command("ledger_check", verbosity=0)


def test_the_freed_email_and_name_sign_up_again_as_a_new_account_with_a_new_grant(user):
    email, name = user.email, user.name
    assert delete_me(user).status_code == 204
    body = {
        "email": email,
        "name": name,
        "password": "brisk-Walrus-93-lamp",
        "password_confirm": "brisk-Walrus-93-lamp",
    }
    response = APIClient().post("/api/auth/signup/", body, format="json")
    assert response.status_code == 201
    again = response.json()["user"]
    assert again["id"] != user.pk and again["credits"] == "15.00"
    assert Transfer.objects.filter(kind=Transfer.Kind.SIGNUP, destination__user_id=again["id"]).count() == 1


def test_the_public_profile_search_reviews_and_presence_forget_the_user(user, other_user):
    connection_open(connection_id="c-gone", user=user, kind="presence")  # online until deleted
    watcher = client(other_user)
    assert any(u["id"] == user.pk for u in watcher.get("/api/presence/online/").json()["results"])
    assert watcher.get(f"/api/users/{user.pk}/").status_code == 200
    assert delete_me(user).status_code == 204
    assert watcher.get(f"/api/users/{user.pk}/").status_code == 404
    assert watcher.get(f"/api/users/{user.pk}/reviews/").status_code == 404
    assert all(u["id"] != user.pk for u in _results(watcher.get("/api/users/", {"search": "user"}).json()))
    assert all(u["id"] != user.pk for u in watcher.get("/api/presence/online/").json()["results"])


def _results(body):
    return body["results"] if isinstance(body, dict) else body  # a page or the type-ahead array


def test_active_posts_leave_every_list(user, other_user):
    mine = LearningPostFactory(creator=user, topic_to_learn="Rust", topic_to_teach="Chess")
    LearningPostFactory(creator=other_user, topic_to_learn="Chess", topic_to_teach="Rust")
    watcher = client(other_user)
    ids = lambda path, **q: [p["id"] for p in watcher.get(path, q).json()["results"]]  # noqa: E731
    assert mine.pk in ids("/api/posts/") and mine.pk in ids("/api/posts/matches/")
    assert delete_me(user).status_code == 204
    assert mine.pk not in ids("/api/posts/")
    assert mine.pk not in ids("/api/posts/", topic="Rust")
    assert ids("/api/posts/", creator=user.pk) == []
    assert mine.pk not in ids("/api/posts/matches/")


def test_reviews_stay_shown_as_from_and_for_a_deleted_user(user, other_user):
    session = CompletedSessionFactory(user1=user, user2=other_user)
    Review.objects.create(session=session, reviewer=user, reviewee=other_user, rating=5, comment="Great")
    Review.objects.create(session=session, reviewer=other_user, reviewee=user, rating=4)
    assert delete_me(user).status_code == 204
    received = client(other_user).get(f"/api/users/{other_user.pk}/reviews/").json()["results"]
    assert [(r["reviewer"], r["reviewer_name"], r["comment"]) for r in received] == [
        (user.pk, f"Deleted user {user.pk}", "Great")
    ]
    of_session = client(other_user).get(f"/api/sessions/{session.pk}/reviews/").json()
    of_session = of_session["results"] if isinstance(of_session, dict) else of_session
    assert {r["reviewee_name"] for r in of_session} == {other_user.name, f"Deleted user {user.pk}"}
    assert Review.objects.count() == 2


def test_me_shows_nothing_new(user):
    fields = set(client(user).get(ME).json())
    assert fields == {"id", "email", "name", "credits", "is_online", "availability", "date_joined"} | {
        "average_rating",
        "total_reviews",
    }


def test_a_deleted_user_cannot_be_invited(user, other_user):
    assert delete_me(user).status_code == 204
    response = client(other_user).post("/api/sessions/", {"user2": user.pk}, format="json")
    assert response.status_code == 400


def test_deleting_twice_is_harmless(user):
    assert services.account_delete(user=user) is True
    assert services.account_delete(user=user) is False
    assert User.objects.get(pk=user.pk).name == f"Deleted user {user.pk}"


@pytest.mark.parametrize(
    "name", ["Deleted user 7", "deleted  USER 12", " Deleted user 3x", "\uff24eleted user 5"], ids=repr
)
def test_names_of_deleted_accounts_are_reserved(user, name):
    response = client(user).patch(ME, {"name": name}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    body = {"email": "new@example.com", "name": name, "password": "brisk-Walrus-93-lamp"}
    body["password_confirm"] = body["password"]
    assert APIClient().post("/api/auth/signup/", body, format="json").status_code == 400


def test_a_legacy_user_named_like_a_deleted_account_does_not_block_deletion(user, other_user):
    # Written past the service's reservation check, as a row from before it would be (save()
    # keeps its name_key, which the uniqueness rule compares).
    other_user.name = f"Deleted user {user.pk}"
    other_user.save(update_fields=["name"])
    assert delete_me(user).status_code == 204
    gone = User.objects.get(pk=user.pk)
    assert gone.name.startswith(f"Deleted user {user.pk} ") and not gone.is_active


# --- sessions -------------------------------------------------------------------------------


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_a_pending_session_is_called_off(clock, user, other_user):
    session = tutoring.session_create(creator=other_user, invitee_id=user.pk)
    assert delete_me(user).status_code == 204
    session.refresh_from_db()
    assert session.status == Session.Status.REJECTED and session.end_time == T0
    assert balance_of(user=other_user) == Decimal("15.00")


def test_deleting_during_a_running_timer_stops_and_settles_it_exactly(clock, db):
    alice, bob = UserFactory(name="Alice"), UserFactory(name="Bob")
    session = tutoring.session_create(creator=alice, invitee_id=bob.pk)
    tutoring.session_respond(session_id=session.pk, user=bob, decision="accept")
    tutoring.timer_start(session_id=session.pk, user=alice)
    for _ in range(10):  # Alice teaches for ten minutes, present all along
        clock.shift(60)
        tutoring.attendance_touch(session_id=session.pk, user_id=alice.pk)
    assert delete_me(bob).status_code == 204  # the learner leaves mid-lesson
    session.refresh_from_db()
    assert session.status == Session.Status.COMPLETED and session.end_time == T0 + timedelta(minutes=10)
    timer = TeachingTimer.objects.get(session=session)
    assert (timer.duration_seconds, timer.stop_reason) == (600, "session_ended")
    # 600 s = 2.00 credits: Bob pays 2.00, the bank keeps 0.20, Alice receives 1.80.
    assert balance_of(user=alice) == Decimal("16.80")
    assert balance_of(user=User.objects.get(pk=bob.pk)) == Decimal("13.00")
    summary = session.credit_summary
    assert summary["user1"]["credits_earned"] == "1.80" and summary["user2"]["credits_spent"] == "2.00"
    assert summary["bank_cut"] == "0.20"
    # Settled exactly as end/ would: ending again moves nothing.
    assert client(alice).post(f"/api/sessions/{session.pk}/end/").status_code == 409
    assert Transfer.objects.filter(session_id=session.pk).count() == 2


def test_a_teacher_deleted_mid_lesson_is_paid_for_the_time_taught(clock, db):
    alice, bob = UserFactory(name="Alice"), UserFactory(name="Bob")
    session = tutoring.session_create(creator=alice, invitee_id=bob.pk)
    tutoring.session_respond(session_id=session.pk, user=bob, decision="accept")
    tutoring.timer_start(session_id=session.pk, user=alice)
    for _ in range(5):
        clock.shift(60)
        tutoring.attendance_touch(session_id=session.pk, user_id=alice.pk)
    assert delete_me(alice).status_code == 204
    assert balance_of(user=User.objects.get(pk=alice.pk)) == Decimal("15.90")  # 1.00 minus 0.10 cut
    assert balance_of(user=bob) == Decimal("14.00")


def test_finished_sessions_are_left_as_they_were(user, other_user):
    done = CompletedSessionFactory(user1=user, user2=other_user)
    assert delete_me(user).status_code == 204
    done.refresh_from_db()
    assert done.status == Session.Status.COMPLETED
