"""POST auth/password/reset/ and auth/password/reset/confirm/: the same answer for any email,
a single-use token that expires, every refresh token revoked on success."""

import re
import statistics
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import password_reset_uid
from tests.factories import PASSWORD, UserFactory

RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/password/reset/confirm/"
LOGIN = "/api/auth/login/"
REFRESH = "/api/auth/token/refresh/"
NEW = "lantern-Oyster-41-quarry"


def ask(email, client=None, **extra):
    return (client or APIClient()).post(RESET, {"email": email}, format="json", **extra)


def confirm(uid, token, new=NEW, new_confirm=None):
    body = {"uid": uid, "token": token, "new_password": new, "new_password_confirm": new_confirm or new}
    return APIClient().post(CONFIRM, body, format="json")


def login(email, password):
    return APIClient().post(LOGIN, {"email": email, "password": password}, format="json")


def link_parts(message) -> tuple[str, str]:
    uid = re.search(r"^uid: (\S+)$", message.body, re.MULTILINE).group(1)
    token = re.search(r"^token: (\S+)$", message.body, re.MULTILINE).group(1)
    return uid, token


@pytest.fixture
def mailed(user, sent_mail):
    """(uid, token) from the reset mail the user asked for."""
    assert ask(user.email).status_code == 202
    (message,) = sent_mail()
    return link_parts(message)


# --- asking ---------------------------------------------------------------------------------


def test_a_known_email_gets_202_and_a_mail_with_uid_and_token(user, sent_mail, settings):
    settings.DEFAULT_FROM_EMAIL = "Link & Learn <help@example.org>"
    response = ask(user.email.upper())  # any case
    assert response.status_code == 202
    (message,) = sent_mail()
    assert message.to == [user.email]
    assert message.from_email == "Link & Learn <help@example.org>"
    assert message.subject == "Reset your Link & Learn password"
    uid, token = link_parts(message)
    assert uid == password_reset_uid(user)
    assert "http" not in message.body  # no FRONTEND_URL, no link


def test_the_mail_links_to_the_frontend_when_configured(user, sent_mail, settings):
    settings.FRONTEND_URL = "https://app.example.org"
    ask(user.email)
    (message,) = sent_mail()
    uid, token = link_parts(message)
    assert f"https://app.example.org/reset-password?uid={uid}&token={token}" in message.body


def test_an_unknown_email_answers_exactly_like_a_known_one_and_sends_nothing(user, sent_mail):
    known = ask(user.email)
    unknown = ask("nobody-here@example.com")
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json()) == (202, known.json())
    assert [m.to for m in sent_mail()] == [[user.email]]


def test_a_deactivated_account_gets_no_mail_and_the_same_answer(db, sent_mail):
    gone = UserFactory(is_active=False)
    known = ask(UserFactory().email)
    response = ask(gone.email)
    assert (response.status_code, response.json()) == (202, known.json())
    assert all(m.to != [gone.email] for m in sent_mail())


@pytest.mark.parametrize("email", ["not-an-email", "", None, "a@" + "b" * 300 + ".com"])
def test_a_malformed_email_is_400(db, email, sent_mail):
    response = ask(email)
    assert response.status_code == 400 and "email" in response.json()
    assert sent_mail() == []


class SlowMail(EmailBackend):
    """A mail server that takes its time, like a real SMTP round trip."""

    DELAY = 0.5

    def send_messages(self, messages):
        time.sleep(self.DELAY)
        return super().send_messages(messages)


def test_answer_time_does_not_tell_known_from_unknown_emails(user, sent_mail, settings, throttle_rates):
    """Timing sanity: the mail is sent after the answer, so a slow mail server does not make
    known addresses answer later. Generous bounds (0.5 s of mail per request) keep it steady."""
    throttle_rates(password_reset_ip=None, password_reset_email=None)
    settings.EMAIL_BACKEND = f"{__name__}.SlowMail"
    known, unknown = [], []
    for i in range(5):
        for email, times in ((user.email, known), (f"stranger{i}@example.com", unknown)):
            started = time.perf_counter()
            assert ask(email).status_code == 202
            times.append(time.perf_counter() - started)
    assert max(known) < SlowMail.DELAY  # nobody waited for the mail server
    assert abs(statistics.median(known) - statistics.median(unknown)) < SlowMail.DELAY / 5
    assert len(sent_mail()) == 5


def test_requests_are_throttled_per_address_known_or_not(user, throttle_rates, sent_mail):
    throttle_rates(password_reset_email="2/hour")
    for email in (user.email, "stranger@example.com"):
        statuses = [ask(email.upper() if i else email).status_code for i in range(3)]
        assert statuses == [202, 202, 429]
    assert len(sent_mail()) == 2


def test_requests_are_throttled_per_ip(db, throttle_rates):
    throttle_rates(password_reset_ip="3/hour")
    statuses = [ask(f"someone{i}@example.com").status_code for i in range(4)]
    assert statuses == [202, 202, 202, 429]
    other_ip = ask("someone@example.com", REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 202


# --- confirming -----------------------------------------------------------------------------


def test_confirm_sets_the_password_and_revokes_every_refresh_token(user, mailed):
    old_refresh = login(user.email, PASSWORD).json()["tokens"]["refresh"]
    response = confirm(*mailed)
    assert response.status_code == 200
    assert "detail" in response.json()
    assert login(user.email, NEW).status_code == 200
    assert login(user.email, PASSWORD).status_code == 401
    assert APIClient().post(REFRESH, {"refresh": old_refresh}, format="json").status_code == 401


def test_a_used_token_is_400(user, mailed):
    assert confirm(*mailed).status_code == 200
    response = confirm(*mailed, new="another-Fine-pass-77")
    assert response.status_code == 400 and "token" in response.json()
    assert login(user.email, NEW).status_code == 200


def test_an_expired_token_is_400(user, mailed, settings):
    later = timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    with time_machine.travel(later):
        response = confirm(*mailed)
    assert response.status_code == 400 and "token" in response.json()
    assert login(user.email, PASSWORD).status_code == 200


def test_a_token_within_its_lifetime_works(user, mailed, settings):
    later = timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT - 60)
    with time_machine.travel(later):
        assert confirm(*mailed).status_code == 200


def test_a_token_with_another_users_uid_is_400(user, other_user, mailed):
    _, token = mailed
    response = confirm(password_reset_uid(other_user), token)
    assert response.status_code == 400 and "token" in response.json()
    assert login(other_user.email, PASSWORD).status_code == 200
    assert login(user.email, PASSWORD).status_code == 200


def test_every_token_mailed_before_a_reset_stops_working_after_it(user, sent_mail):
    ask(user.email)
    ask(user.email)
    first, second = (link_parts(m) for m in sent_mail())
    assert confirm(*first).status_code == 200
    assert confirm(*second).status_code == 400  # bound to the old password hash


@pytest.mark.parametrize(
    "uid",
    ["", "!!!", "MTIz" * 10, "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "LTE", "MA", "ZGVsZXRlZA", "\u00e9"],
    ids=repr,
)
def test_a_bad_uid_is_400_never_500(user, mailed, uid):
    _, token = mailed
    response = confirm(uid, token)
    assert response.status_code == 400
    assert login(user.email, PASSWORD).status_code == 200


@pytest.mark.parametrize("token", ["", "garbage", "x" * 129, "1-2-3"])
def test_a_bad_token_is_400(user, mailed, token):
    uid, _ = mailed
    response = confirm(uid, token)
    assert response.status_code == 400
    assert login(user.email, PASSWORD).status_code == 200


def test_an_invalid_new_password_is_400_and_the_token_still_works(user, mailed):
    assert confirm(*mailed, new="short").status_code == 400
    assert confirm(*mailed, new=NEW, new_confirm=NEW + "!").status_code == 400
    like_email = user.email.split("@")[0] + "!"
    response = confirm(*mailed, new=like_email)
    assert response.status_code == 400 and "new_password" in response.json()
    assert confirm(*mailed).status_code == 200


def test_a_deactivated_users_token_is_400(user, mailed):
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert confirm(*mailed).status_code == 400
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
