"""Idempotency-Key on the seven POSTs of SPEC section 1 (common.idempotency).

Every endpoint gets the same checks: a retry with the same key and body gets the first answer
byte for byte and changes nothing; another body is 422; a bad key is 400; another user's same
key is another key; the key is kept 24 hours and is new after that.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import User
from common.idempotency import keys_purge
from common.models import IdempotencyKey
from learning.models import LearningPost
from ledger.models import Account, Transfer
from reviews.models import Review
from tests.factories import CompletedSessionFactory, UserFactory
from tests.ledger.conftest import make_user_with
from tests.tutoring.conftest import api
from tutoring import services
from tutoring.models import Session
from tutoring.views import SessionEndView

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "3f1c9a2e-retry-me"


def world() -> tuple:
    """Everything a request could have changed, to show a replay changed nothing."""
    return (
        list(User.objects.order_by("pk").values_list("pk", "email")),
        list(LearningPost.objects.order_by("pk").values_list("pk", "topic_to_learn", "is_completed")),
        list(Session.objects.order_by("pk").values_list("pk", "status", "end_time")),
        list(Review.objects.order_by("pk").values_list("pk", "rating")),
        list(Transfer.objects.order_by("pk").values_list("pk", "amount")),
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
    )


@dataclass
class Case:
    client: APIClient
    url: str
    body: dict
    other_body: dict
    success: int

    def post(self, body=None, key=KEY, **headers):
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return self.client.post(self.url, self.body if body is None else body, format="json", **headers)


def _signup(n):
    body = {"email": f"new{n}@example.com", "name": f"New {n}", "password": "Secure-pass-123!"}
    body["password_confirm"] = body["password"]
    return Case(APIClient(), "/api/auth/signup/", body, {**body, "name": f"Other {n}"}, 201)


def _post(n):
    return Case(
        api(UserFactory()),
        "/api/posts/",
        {"topic_to_learn": "Python", "topic_to_teach": "Go"},
        {"topic_to_learn": "Rust", "topic_to_teach": "Go"},
        201,
    )


def _session(n):
    creator, invitee, third = UserFactory(), UserFactory(), UserFactory()
    return Case(api(creator), "/api/sessions/", {"user2": invitee.pk}, {"user2": third.pk}, 201)


def _respond(n):
    creator, invitee = UserFactory(), UserFactory()
    session = services.session_create(creator=creator, invitee_id=invitee.pk)
    url = f"/api/sessions/{session.pk}/respond/"
    return Case(api(invitee), url, {"decision": "accept"}, {"decision": "reject"}, 200)


def _end(n):
    """An active session in which the creator taught ten minutes: ending it moves credits."""
    teacher, learner = UserFactory(), UserFactory()
    session = services.session_create(creator=teacher, invitee_id=learner.pk)
    services.session_respond(session_id=session.pk, user=learner, decision="accept")
    start = T0 - timedelta(hours=1)
    services.timer_start(session_id=session.pk, user=teacher, now=start)
    for minute in range(1, 11):
        services.attendance_touch(
            session_id=session.pk, user_id=teacher.pk, now=start + timedelta(minutes=minute)
        )
    services.timer_stop(session_id=session.pk, user=teacher, now=start + timedelta(minutes=10))
    return Case(api(learner), f"/api/sessions/{session.pk}/end/", {}, {"reason": "done"}, 200)


def _review(n):
    reviewer, reviewee = UserFactory(), UserFactory()
    session = CompletedSessionFactory(user1=reviewer, user2=reviewee)
    url = f"/api/sessions/{session.pk}/reviews/"
    return Case(api(reviewer), url, {"rating": 5, "comment": "Clear"}, {"rating": 4}, 201)


def _support(n):
    return Case(api(make_user_with("0.50")), "/api/bank/support/", {}, {"amount": "100"}, 200)


ENDPOINTS = {
    "signup": _signup,
    "posts": _post,
    "sessions": _session,
    "respond": _respond,
    "end": _end,
    "reviews": _review,
    "support": _support,
}


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=list(ENDPOINTS))
def make(request, clock):
    """`make(n)` builds the n-th independent caller of one endpoint."""
    return ENDPOINTS[request.param]


def test_a_retry_gets_the_first_answer_and_changes_nothing(make):
    case = make(1)
    first = case.post()
    assert first.status_code == case.success, first.content
    assert "Idempotent-Replayed" not in first
    after_first = world()

    retry = case.post()

    assert (retry.status_code, retry.content) == (first.status_code, first.content)
    assert retry["Content-Type"] == first["Content-Type"]
    assert retry["Idempotent-Replayed"] == "true"
    assert world() == after_first


def test_the_same_key_with_another_body_is_422_and_changes_nothing(make):
    case = make(1)
    first = case.post()
    after_first = world()

    other = case.post(case.other_body)

    assert other.status_code == 422
    assert "different request" in other.json()["detail"]
    assert world() == after_first
    assert case.post().content == first.content  # the key still answers its own request


def test_key_order_and_spacing_of_the_body_do_not_matter(make):
    case = make(1)
    first = case.post()
    reordered = json.dumps(dict(reversed(list(case.body.items()))), indent=3)
    retry = case.client.post(case.url, reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert (retry.status_code, retry.content) == (first.status_code, first.content)


@pytest.mark.parametrize("bad_key", ["", "x" * 256, "clé", "tab\tkey", "nul\x00key", "\x7f"])
def test_a_bad_key_is_400_and_does_nothing(make, bad_key):
    case = make(1)
    before = world()
    response = case.post(key=bad_key)
    assert response.status_code == 400
    assert response.json() == {"detail": "Idempotency-Key must be 1 to 255 printable ASCII characters."}
    assert world() == before
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("good_key", ["a", "x" * 255, "~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"])
def test_every_printable_ascii_key_of_1_to_255_characters_works(good_key):
    case = _post(1)
    first = case.post(key=good_key)
    assert first.status_code == 201
    assert case.post(key=good_key).content == first.content
    assert LearningPost.objects.count() == 1


@pytest.mark.parametrize("endpoint", [name for name in ENDPOINTS if name != "signup"])
def test_another_users_same_key_is_another_key(endpoint, clock):
    mine, theirs = ENDPOINTS[endpoint](1), ENDPOINTS[endpoint](2)
    first = mine.post()
    before = world()

    other = theirs.post()

    assert other.status_code == theirs.success
    assert "Idempotent-Replayed" not in other
    assert world() != before  # their request ran
    assert mine.post().content == first.content


def test_signup_keys_are_shared_by_every_anonymous_caller():
    """Anonymous callers have one scope per endpoint: another signup under a used key is 422,
    and only someone sending the very same body (password included) gets the stored answer."""
    first, second = _signup(1), _signup(2)
    assert first.post().status_code == 201
    assert second.post().status_code == 422
    assert User.objects.filter(email=second.body["email"]).count() == 0
    assert second.post(key="another-key").status_code == 201


def test_a_key_is_kept_24_hours_then_is_new(make, clock):
    case = make(1)
    first = case.post()
    clock.shift(timedelta(hours=24) - timedelta(seconds=1))
    assert case.post()["Idempotent-Replayed"] == "true"

    clock.shift(timedelta(seconds=2))
    after_expiry = case.post()

    # The request ran again: the same answer a request without a key gets now.
    assert "Idempotent-Replayed" not in after_expiry
    without_key = case.post(key=None)
    assert (after_expiry.status_code, after_expiry.content) == (without_key.status_code, without_key.content)
    assert after_expiry.content != first.content
    assert IdempotencyKey.objects.get(key=KEY).created_at == T0 + timedelta(hours=24, seconds=1)


def test_without_a_key_nothing_is_stored(make):
    case = make(1)
    assert case.post(key=None).status_code == case.success
    assert not IdempotencyKey.objects.exists()


# --- what is stored and what is not -------------------------------------------------------------


def test_a_4xx_answer_of_the_endpoint_is_stored():
    """The review endpoint refused the rating; the retry gets that refusal again, even though
    the same body without a key is refused the same way: the key's answer does not re-run."""
    case = _review(1)
    refused = case.post({"rating": 9})
    assert refused.status_code == 400
    retry = case.post({"rating": 9})
    assert (retry.status_code, retry.content) == (400, refused.content)
    assert retry["Idempotent-Replayed"] == "true"


def test_a_stored_409_stays_the_answer_to_its_key(clock):
    case = _end(1)
    assert case.post(key="first").status_code == 200
    second_end = case.post(key="second")
    assert second_end.status_code == 409
    assert case.post(key="second").content == second_end.content
    assert case.post(key="first").status_code == 200  # the first key still has its summary


def test_refusals_before_the_endpoint_runs_are_not_stored(clock):
    case = _post(1)
    anonymous = APIClient().post(case.url, case.body, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert anonymous.status_code == 401
    malformed = case.client.post(case.url, "{nope", content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert malformed.status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert case.post().status_code == 201  # the key is still free


def test_a_5xx_is_not_stored_and_undoes_what_it_did(monkeypatch, clock):
    case = _end(1)
    before = world()

    def crash(*args, **kwargs):
        raise RuntimeError("the summary could not be built")

    monkeypatch.setattr("tutoring.views.session_representation", crash)
    case.client.raise_request_exception = False
    assert case.post().status_code == 500
    assert world() == before  # the settlement was rolled back with it
    assert not IdempotencyKey.objects.exists()

    monkeypatch.undo()
    retry = case.post()
    assert retry.status_code == 200  # the retry ran, and settled once
    assert "Idempotent-Replayed" not in retry
    assert Transfer.objects.filter(kind=Transfer.Kind.TEACHING).count() == 1


def test_the_same_key_on_another_endpoint_is_422(clock):
    case = _post(1)
    assert case.post().status_code == 201
    response = case.client.post("/api/bank/support/", {}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert response.status_code == 422


def test_a_path_without_its_trailing_slash_is_the_same_request(clock):
    case = _post(1)
    first = case.post()
    retry = case.client.post("/api/posts", case.body, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert (retry.status_code, retry.content) == (201, first.content)


# --- the motivating case: the process died after committing end/ --------------------------------


def test_end_whose_answer_was_lost_after_commit_is_recovered_by_the_retry(monkeypatch, clock):
    case = _end(1)
    real_dispatch = SessionEndView.dispatch

    def dies_after_commit(self, request, *args, **kwargs):
        real_dispatch(self, request, *args, **kwargs)  # committed: settled and answer stored
        raise ConnectionResetError("the process died before the answer reached the client")

    monkeypatch.setattr(SessionEndView, "dispatch", dies_after_commit)
    case.client.raise_request_exception = False
    assert case.post().status_code == 500  # what the client saw: no summary
    settled = world()
    assert Session.objects.get().status == Session.Status.COMPLETED
    monkeypatch.undo()

    retry = case.post()

    assert retry.status_code == 200
    summary = retry.json()["credit_summary"]
    assert summary["user1"]["teaching_seconds"] == 600
    assert Decimal(summary["user1"]["credits_earned"]) == Decimal("1.80")  # 2.00 less the bank's 10%
    assert Decimal(summary["user2"]["credits_spent"]) == Decimal("2.00")
    assert world() == settled  # nothing settled twice
    assert case.post(key=None).status_code == 409  # without the key, the retry would be lost


def test_when_storing_the_answer_fails_the_effect_is_undone_too(monkeypatch, clock):
    """Answer and effect commit together: if the answer can't be stored, nothing happened, so a
    retry settles (once) instead of finding a settled session without an answer."""
    case = _end(1)
    before = world()

    def broken_store(row, response):
        raise RuntimeError("database went away while storing the answer")

    monkeypatch.setattr("common.idempotency._store", broken_store)
    case.client.raise_request_exception = False
    assert case.post().status_code == 500
    assert world() == before
    monkeypatch.undo()
    assert case.post().status_code == 200
    assert Transfer.objects.filter(kind=Transfer.Kind.TEACHING).count() == 1


# --- expiry housekeeping --------------------------------------------------------------------------


def test_the_sweep_deletes_expired_keys_only(clock, capsys):
    case = _post(1)
    case.post(key="old")
    clock.shift(timedelta(hours=12))
    case.post(case.other_body, key="recent")
    clock.shift(timedelta(hours=12, seconds=1))

    call_command("sweep")

    assert "1 expired idempotency key(s) deleted" in capsys.readouterr().out
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]
    assert keys_purge() == 0


# --- OpenAPI ----------------------------------------------------------------------------------------

OPERATIONS = [
    "/api/auth/signup/",
    "/api/posts/",
    "/api/sessions/",
    "/api/sessions/{id}/respond/",
    "/api/sessions/{id}/end/",
    "/api/sessions/{session_id}/reviews/",
    "/api/bank/support/",
]


def test_the_schema_documents_the_header_and_its_answers(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in OPERATIONS:
        operation = schema["paths"][path]["post"]
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["Idempotency-Key"], path
        assert {"400", "409", "422"} <= set(operation["responses"]), path
        successes = {code for code in operation["responses"] if code.startswith("2")}
        assert successes, path  # the operation's own answers are still there
    login = schema["paths"]["/api/auth/login/"]["post"]
    assert not [p for p in login.get("parameters", []) if p["in"] == "header"]
    assert "422" not in login["responses"]


def test_a_replayed_end_announces_nothing_again(broadcasts, clock):
    case = _end(1)
    with broadcasts.committing():
        case.post()
    first = [event for _, event, _ in broadcasts.events]
    assert "session_ended" in first
    with broadcasts.committing():
        assert case.post()["Idempotent-Replayed"] == "true"
    assert [event for _, event, _ in broadcasts.events] == first


def test_browser_clients_may_send_the_key_and_read_the_replay_header(settings, clock):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.linklearn.example"]
    origin = {"HTTP_ORIGIN": "https://app.linklearn.example"}
    preflight = APIClient().options(
        "/api/posts/",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
        **origin,
    )
    assert "idempotency-key" in preflight["Access-Control-Allow-Headers"]
    case = _post(1)
    case.post(**origin)
    replay = case.post(**origin)
    assert "Idempotent-Replayed" in replay["Access-Control-Expose-Headers"]
