from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.services import support_grant, teaching_pay
from tests.factories import UserFactory
from tests.ledger.conftest import balance, make_user_with, reset_ledger_with_reserve

CREDITS = "/api/credits/"
HISTORY = "/api/credits/transactions/"
SUPPORT = "/api/bank/support/"


@pytest.mark.parametrize(
    ("method", "path"), [("get", CREDITS), ("get", HISTORY), ("get", SUPPORT), ("post", SUPPORT)]
)
def test_credit_endpoints_need_a_token(api_client, db, method, path):
    assert getattr(api_client, method)(path).status_code == 401


def test_credits_shows_the_balance_as_a_two_place_string(client_for, user):
    response = client_for(user).get(CREDITS)
    assert response.status_code == 200
    assert response.json() == {"credits": "15.00"}


def test_credits_is_read_only(client_for, user):
    assert client_for(user).post(CREDITS, {"credits": "999.00"}).status_code == 405
    assert balance(user) == Decimal("15.00")


def test_history_lists_the_signup_grant(client_for, user):
    body = client_for(user).get(HISTORY).json()
    assert body["count"] == 1
    entry = body["results"][0]
    assert {
        k: entry[k] for k in ("type", "amount", "balance_after", "counterparty", "counterparty_kind")
    } == {
        "type": "SIGNUP",
        "amount": "15.00",
        "balance_after": "15.00",
        "counterparty": None,
        "counterparty_kind": "platform",
    }
    assert entry["session"] is None
    assert entry["created_at"].endswith(("Z", "+00:00"))


def test_teaching_shows_as_teaching_to_the_teacher_and_learning_to_the_learner(client_for, user, other_user):
    teaching_pay(learner=user, teacher=other_user, seconds=3600, session_id=42)

    learner_rows = client_for(user).get(HISTORY).json()["results"]
    assert [(r["type"], r["amount"], r["balance_after"], r["counterparty_kind"]) for r in learner_rows] == [
        ("BANK_CUT", "-1.20", "3.00", "bank"),
        ("LEARNING", "-10.80", "4.20", "user"),
        ("SIGNUP", "15.00", "15.00", "platform"),
    ]
    assert learner_rows[1]["counterparty"] == {"id": other_user.pk, "name": other_user.name}
    assert learner_rows[1]["session"] == 42

    teacher_row = client_for(other_user).get(HISTORY).json()["results"][0]
    assert (teacher_row["type"], teacher_row["amount"], teacher_row["balance_after"]) == (
        "TEACHING",
        "10.80",
        "25.80",
    )
    assert teacher_row["counterparty"] == {"id": user.pk, "name": user.name}


def test_history_never_shows_the_counterpartys_email(client_for, user, other_user):
    teaching_pay(learner=user, teacher=other_user, seconds=300, session_id=1)
    assert other_user.email not in client_for(user).get(HISTORY).content.decode()


@pytest.mark.parametrize("kind", ["learning", "LEARNING", "Learning"])
def test_history_filters_by_type_in_any_case(client_for, user, other_user, kind):
    teaching_pay(learner=user, teacher=other_user, seconds=300, session_id=1)
    rows = client_for(user).get(HISTORY, {"type": kind}).json()["results"]
    assert [r["type"] for r in rows] == ["LEARNING"]


def test_history_filter_for_support(client_for, user_with):
    user = user_with("0.00")
    support_grant(user=user)
    rows = client_for(user).get(HISTORY, {"type": "support"}).json()["results"]
    assert [(r["type"], r["amount"], r["counterparty_kind"]) for r in rows] == [("SUPPORT", "6.00", "bank")]


def test_unknown_history_type_is_a_400(client_for, user):
    response = client_for(user).get(HISTORY, {"type": "GIFT"})
    assert response.status_code == 400
    assert "type" in response.json()


def test_history_is_only_the_callers_own(client_for, user, other_user):
    third = UserFactory()
    teaching_pay(learner=other_user, teacher=third, seconds=300, session_id=1)
    rows = client_for(user).get(HISTORY).json()["results"]
    assert [r["type"] for r in rows] == ["SIGNUP"]
    assert all(r["counterparty"] is None for r in rows)


def test_history_is_paginated_newest_first(client_for, user, other_user):
    for session_id in range(1, 6):
        teaching_pay(learner=other_user, teacher=user, seconds=300, session_id=session_id)
    body = client_for(user).get(HISTORY, {"page_size": 2}).json()
    assert body["count"] == 6
    assert [r["session"] for r in body["results"]] == [5, 4]
    assert body["next"] is not None


def _history_queries(client, n_expected):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(HISTORY, {"page_size": 100})
    assert response.json()["count"] == n_expected
    return len(queries)


def test_history_costs_the_same_queries_for_one_entry_and_for_fifty(client_for, user_with):
    learner, teacher = user_with("1000.00"), user_with("0.00")  # the teacher has no signup entry
    client = client_for(teacher)
    teaching_pay(learner=learner, teacher=teacher, seconds=300, session_id=1)
    one = _history_queries(client, 1)
    for session_id in range(2, 51):
        teaching_pay(learner=learner, teacher=teacher, seconds=300, session_id=session_id)
    fifty = _history_queries(client, 50)
    assert one == fifty


def test_support_status_for_an_eligible_user(client_for, user_with):
    user = user_with("2.50")
    assert client_for(user).get(SUPPORT).json() == {
        "eligible": True,
        "reason": "Eligible for 4.00 support credits.",
        "support_amount": "4.00",
        "current_credits": "2.50",
        "cooldown_ends": None,
    }


def test_support_status_for_a_user_above_three(client_for, user):
    body = client_for(user).get(SUPPORT).json()
    assert (body["eligible"], body["support_amount"], body["current_credits"]) == (False, "0.00", "15.00")
    assert body["reason"]


def test_posting_support_grants_it(client_for, user_with):
    user = user_with("0.00")
    response = client_for(user).post(SUPPORT, {"amount": "500.00"})  # the client does not pick the amount
    assert response.status_code == 200
    body = response.json()
    assert (body["granted"], body["credits"]) == ("6.00", "6.00")
    assert body["cooldown_ends"]
    assert body["message"] == "6.00 support credits granted."
    assert client_for(user).get(CREDITS).json() == {"credits": "6.00"}


def test_posting_support_in_cooldown_is_a_409_and_changes_nothing(client_for, user_with):
    user = user_with("3.00")
    client_for(user).post(SUPPORT)
    response = client_for(user).post(SUPPORT)
    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"detail", "error"}
    assert "granted recently" in body["detail"] and body["error"] == body["detail"]
    assert balance(user) == Decimal("5.00")
    status = client_for(user).get(SUPPORT).json()
    assert status["eligible"] is False and status["cooldown_ends"] is not None


def test_posting_support_when_not_eligible_is_a_409(client_for, user):
    response = client_for(user).post(SUPPORT)
    assert response.status_code == 409
    reason = "Support is for balances of 3.00 credits or less."
    assert response.json() == {"detail": reason, "error": reason}
    assert balance(user) == Decimal("15.00")


@pytest.mark.parametrize(("credits", "message"), [("3.00", "2.00"), ("1.00", "4.00"), ("0.99", "6.00")])
def test_the_grant_message_names_the_amount(client_for, user_with, credits, message):
    body = client_for(user_with(credits)).post(SUPPORT).json()
    assert body["message"] == f"{message} support credits granted."


def test_a_bank_too_poor_to_pay_is_a_409_with_the_reason_twice(client_for, db):
    reset_ledger_with_reserve("1.00")
    user = make_user_with("0.00")
    response = client_for(user).post(SUPPORT)
    assert response.status_code == 409
    body = response.json()
    assert (
        body["error"] == body["detail"] == "The bank cannot cover support right now. Please try again later."
    )
    assert balance(user) == Decimal("0.00")


def test_the_schema_shows_the_support_message_and_refusal(api_client, db):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    post = schema["paths"][SUPPORT]["post"]["responses"]
    assert post["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/SupportGrantOutput")
    assert post["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/SupportRefusalOutput")
    components = schema["components"]["schemas"]
    assert "message" in components["SupportGrantOutput"]["properties"]
    assert set(components["SupportRefusalOutput"]["properties"]) == {"detail", "error"}


def test_schema_documents_the_credit_endpoints(api_client, db):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in (CREDITS, HISTORY, SUPPORT):
        assert path in schema
