"""Idempotency-Key races that only PostgreSQL's concurrent transactions can show."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection

from accounts.models import User
from common.models import IdempotencyKey
from learning import services as learning_services
from learning.models import LearningPost
from ledger.models import Transfer
from tests.concurrency import race, race_n
from tests.factories import UserFactory
from tests.tutoring.conftest import api, taught_session
from tutoring.models import Session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

KEY = "race-key"
POST = {"topic_to_learn": "Python", "topic_to_teach": "Go"}


def post_with_key(user, body=POST, key=KEY):
    return lambda: api(user).post("/api/posts/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_two_ends_with_one_key_settle_once_and_both_get_the_summary():
    teacher, learner = UserFactory(), UserFactory()
    session = taught_session(teacher, learner, minutes=10)
    url = f"/api/sessions/{session.pk}/end/"

    responses = race_n(2, lambda: api(learner).post(url, HTTP_IDEMPOTENCY_KEY=KEY))

    assert [r.status_code for r in responses] == [200, 200], responses
    assert responses[0].content == responses[1].content
    assert sorted(r.has_header("Idempotent-Replayed") for r in responses) == [False, True]
    assert responses[0].json()["credit_summary"]["user1"]["teaching_seconds"] == 600
    assert Transfer.objects.filter(session_id=session.pk).count() == 2  # the payment and the bank's cut
    assert Session.objects.get(pk=session.pk).status == Session.Status.COMPLETED


def test_four_creates_with_one_key_make_one_post():
    user = UserFactory()
    responses = race_n(4, post_with_key(user))
    assert [r.status_code for r in responses] == [201] * 4, responses
    assert len({r.content for r in responses}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 3
    assert LearningPost.objects.count() == 1


def test_three_signups_with_one_key_make_one_account():
    body = {"email": "racer@example.com", "name": "Racer", "password": "Secure-pass-123!"}
    body["password_confirm"] = body["password"]
    from rest_framework.test import APIClient

    responses = race_n(
        3, lambda: APIClient().post("/api/auth/signup/", body, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    )
    assert [r.status_code for r in responses] == [201] * 3, responses
    assert len({r.content for r in responses}) == 1
    assert User.objects.filter(email="racer@example.com").count() == 1


def test_one_key_with_two_bodies_at_once_runs_one_and_refuses_the_other():
    user = UserFactory()
    responses = race(post_with_key(user), post_with_key(user, {**POST, "topic_to_learn": "Rust"}))
    assert sorted(r.status_code for r in responses) == [201, 422], responses
    assert LearningPost.objects.count() == 1


class Held:
    """Holds the first `post_create` inside its transaction until released."""

    def __init__(self, monkeypatch, *, fail=False):
        self.entered, self.release = threading.Event(), threading.Event()
        real = learning_services.post_create

        def held(**kwargs):
            self.entered.set()
            assert self.release.wait(timeout=30)
            if fail:
                raise RuntimeError("the first request crashed")
            return real(**kwargs)

        monkeypatch.setattr(learning_services, "post_create", held)
        self.real = real
        self.monkeypatch = monkeypatch

    def run_first(self, call):
        result = {}

        def run():
            try:
                result["response"] = call()
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        assert self.entered.wait(timeout=30), "the first request never reached the service"
        # Later requests reach the real service: only the first one is held.
        self.monkeypatch.setattr(learning_services, "post_create", self.real)
        return thread, result


def test_a_retry_while_the_first_runs_waits_for_its_answer(monkeypatch, settings):
    settings.IDEMPOTENCY_WAIT = timedelta(seconds=10)
    user = UserFactory()
    held = Held(monkeypatch)
    thread, first = held.run_first(post_with_key(user))
    threading.Timer(0.5, held.release.set).start()

    started = time.monotonic()
    retry = post_with_key(user)()
    waited = time.monotonic() - started
    thread.join(timeout=30)

    assert first["response"].status_code == 201
    assert (retry.status_code, retry.content) == (201, first["response"].content)
    assert retry["Idempotent-Replayed"] == "true"
    assert 0.4 < waited < 10
    assert LearningPost.objects.count() == 1


def test_a_retry_that_waited_too_long_gets_409_and_the_key_still_answers_later(monkeypatch, settings):
    settings.IDEMPOTENCY_WAIT = timedelta(seconds=0.3)
    user = UserFactory()
    held = Held(monkeypatch)
    thread, first = held.run_first(post_with_key(user))

    started = time.monotonic()
    busy = post_with_key(user)()
    waited = time.monotonic() - started
    held.release.set()
    thread.join(timeout=30)

    assert busy.status_code == 409
    assert busy["Retry-After"] == "1"
    assert "still being processed" in busy.json()["detail"]
    assert 0.25 < waited < 5
    assert first["response"].status_code == 201
    later = post_with_key(user)()
    assert (later.status_code, later.content) == (201, first["response"].content)
    assert LearningPost.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_when_the_first_crashes_the_waiting_retry_runs_it(monkeypatch, settings):
    settings.IDEMPOTENCY_WAIT = timedelta(seconds=10)
    user = UserFactory()
    held = Held(monkeypatch, fail=True)

    def call():
        # The test client hears of any thread's 500 (a global signal): answers, not raises.
        client = api(user)
        client.raise_request_exception = False
        return client.post("/api/posts/", POST, format="json", HTTP_IDEMPOTENCY_KEY=KEY)

    thread, first = held.run_first(call)
    threading.Timer(0.3, held.release.set).start()
    retry = call()
    thread.join(timeout=30)

    assert first["response"].status_code == 500
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert LearningPost.objects.count() == 1
