import time_machine
from django.utils import timezone

from bench.server import free_port
from tests.factories import PASSWORD, UserFactory

URL = "/api/auth/login/"


def test_login_returns_the_user_and_tokens(login, user):
    response = login(user.email)
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == user.id
    assert body["user"]["credits"] == "15.00"
    assert set(body["tokens"]) == {"access", "refresh"}


def test_login_with_upper_case_email_works(login, user):
    assert login(user.email.upper()).status_code == 200


def test_wrong_password_is_401(login, user):
    response = login(user.email, "wrong-password")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_unknown_email_is_401(login, db):
    assert login("nobody@example.com").status_code == 401


def test_inactive_user_cannot_log_in(login, user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert login(user.email).status_code == 401


def test_missing_fields_are_400(api_client, db):
    response = api_client.post(URL, {"email": "a@example.com"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()


def test_repeated_failures_for_one_account_from_one_address_get_429(login, user, throttle_rates):
    throttle_rates(login_failures_account="3/15min")
    assert [login(user.email, "nope").status_code for _ in range(3)] == [401, 401, 401]
    assert login(user.email, "nope").status_code == 429


def test_a_throttled_account_and_address_refuse_even_the_right_password(login, user, throttle_rates):
    # Otherwise the one attempt that is not refused would confirm a guessed password.
    throttle_rates(login_failures_account="2/15min")
    login(user.email, "nope")
    login(user.email.upper(), "nope")  # the email's case does not start a new count
    response = login(user.email)
    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_account_throttle_ends_with_its_window(login, user, throttle_rates):
    throttle_rates(login_failures_account="2/15min")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        login(user.email, "nope")
        login(user.email, "nope")
        assert login(user.email).status_code == 429
        clock.shift(15 * 60 + 1)
        assert login(user.email).status_code == 200


def test_account_throttle_does_not_affect_other_accounts(login, user, other_user, throttle_rates):
    throttle_rates(login_failures_account="2/15min")
    login(user.email, "nope")
    login(user.email, "nope")
    assert login(other_user.email).status_code == 200


def test_successful_logins_are_never_throttled(login, user, throttle_rates):
    throttle_rates(login_failures_account="2/15min", login_failures_ip="2/hour")
    assert {login(user.email).status_code for _ in range(10)} == {200}


def test_a_success_resets_the_count_for_that_account_and_address(login, user, throttle_rates):
    throttle_rates(login_failures_account="2/15min")
    login(user.email, "nope")
    login(user.email)
    login(user.email, "nope")
    assert login(user.email).status_code == 200


def test_repeated_failures_from_one_ip_get_429(login, db, throttle_rates):
    throttle_rates(login_failures_ip="3/hour")
    users = UserFactory.create_batch(4)
    for u in users[:3]:
        assert login(u.email, "nope", REMOTE_ADDR="10.1.1.1").status_code == 401
    assert login(users[3].email, PASSWORD, REMOTE_ADDR="10.1.1.1").status_code == 429
    assert login(users[3].email, PASSWORD, REMOTE_ADDR="10.1.1.2").status_code == 200


def test_unknown_emails_count_as_failures(login, db, throttle_rates):
    throttle_rates(login_failures_ip="2/hour")
    login("a@example.com", "x")
    login("b@example.com", "x")
    assert login("c@example.com", "x").status_code == 429


def test_missing_fields_are_not_counted(api_client, user, throttle_rates, login):
    throttle_rates(login_failures_account="1/15min")
    api_client.post(URL, {"email": user.email}, format="json")
    assert login(user.email).status_code == 200


def test_a_forged_forwarded_for_header_does_not_dodge_the_ip_throttle(login, db, throttle_rates):
    throttle_rates(login_failures_ip="2/hour")
    for n in range(2):
        login(f"x{n}@example.com", "x", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert login("y@example.com", "x", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(login, user, throttle_rates):
    # SPEC section 2: failed logins are slowed, the real user is not.
    throttle_rates(login_failures_account="2/15min")
    for _ in range(5):
        login(user.email, "nope", REMOTE_ADDR="203.0.113.7")
    assert login(user.email, REMOTE_ADDR="198.51.100.1").status_code == 200


def test_failures_spread_over_many_addresses_hit_the_account_ceiling(login, user, throttle_rates):
    throttle_rates(login_failures_account="2/15min", login_failures_account_total="4/hour")
    codes = [login(user.email, "nope", REMOTE_ADDR=f"203.0.113.{n}").status_code for n in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    response = login(user.email, REMOTE_ADDR="198.51.100.1")
    assert response.status_code == 429
    assert "Retry-After" in response.headers


def test_refused_attempts_do_not_count_towards_the_account_ceiling(login, user, throttle_rates):
    throttle_rates(login_failures_account="2/15min", login_failures_account_total="4/hour")
    codes = [login(user.email, "nope", REMOTE_ADDR="203.0.113.7").status_code for _ in range(10)]
    assert codes == [401, 401] + [429] * 8
    assert login(user.email, REMOTE_ADDR="198.51.100.1").status_code == 200


def test_a_success_does_not_reset_the_address_count(login, user, db, throttle_rates):
    throttle_rates(login_failures_ip="3/hour")
    others = UserFactory.create_batch(3)
    login(others[0].email, "nope")
    login(others[1].email, "nope")
    assert login(user.email).status_code == 200
    assert login(others[2].email, "nope").status_code == 401
    assert login(others[2].email).status_code == 429


def test_logins_keep_working_with_per_process_limits_while_redis_is_down(
    login, user, throttle_rates, monkeypatch, caplog
):
    throttle_rates(login_failures_account="2/15min")
    monkeypatch.setattr("common.counters._redis_url", lambda: f"redis://127.0.0.1:{free_port()}/0")

    assert login(user.email, PASSWORD).status_code == 200
    assert login(user.email, "wrong").status_code == 401
    assert login(user.email, "wrong").status_code == 401
    assert login(user.email, PASSWORD).status_code == 429  # still limited, by this process
    assert "rate limits are per process" in caplog.text
