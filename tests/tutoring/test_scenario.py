"""Two people meet through a post, teach each other, settle and review: all over the REST API."""

from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from rest_framework.test import APIClient

from ledger.models import Account


def signup(name: str) -> tuple[APIClient, dict]:
    body = {
        "email": f"{name.lower()}@example.com",
        "name": name,
        "password": "a-long-Secret-9876",
        "password_confirm": "a-long-Secret-9876",
    }
    response = APIClient().post("/api/auth/signup/", body, format="json")
    assert response.status_code == 201, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['tokens']['access']}")
    return client, response.json()["user"]


def test_two_users_teach_each_other_and_every_cent_adds_up(db, clock):
    alice, alice_me = signup("Alice")
    bob, bob_me = signup("Bob")
    assert alice_me["credits"] == bob_me["credits"] == "15.00"
    bank_before = Account.objects.get(kind=Account.Kind.BANK).balance

    post = bob.post("/api/posts/", {"topic_to_learn": "Python", "topic_to_teach": "Guitar"}, format="json")
    assert post.status_code == 201, post.content

    created = alice.post(
        "/api/sessions/", {"user2": bob_me["id"], "learning_request": post.json()["id"]}, format="json"
    )
    assert created.status_code == 201
    session = created.json()
    path = f"/api/sessions/{session['id']}/"
    assert bob.get("/api/sessions/").json()["results"][0]["status"] == "pending"
    assert alice.post(path + "timer/start/").status_code == 409  # nobody is charged before Bob joins
    assert bob.post(path + "respond/", {"decision": "accept"}, format="json").json()["status"] == "active"

    def teach(teacher: APIClient, learner: APIClient, seconds: int) -> dict:
        assert teacher.post(path + "timer/start/").status_code == 201
        assert learner.post(path + "timer/start/").status_code == 409
        for _ in range(seconds // 60):  # both keep the session open, polling once a minute
            clock.shift(60)
            assert teacher.get(path).json()["active_timer"]["is_running"] is True
            learner.get(path)
        clock.shift(seconds % 60)
        stopped = teacher.post(path + "timer/stop/")
        assert stopped.status_code == 200
        return stopped.json()

    assert teach(alice, bob, 1000)["duration_seconds"] == 1000  # Python: Bob owes 3.33
    assert teach(bob, alice, 500)["duration_seconds"] == 500  # Guitar: Alice owes 1.66

    ended = bob.post(path + "end/")
    assert ended.status_code == 200
    assert ended.json()["credit_summary"] == {
        "user1": {
            "id": alice_me["id"],
            "name": "Alice",
            "teaching_seconds": 1000,
            "credits_earned": "3.00",  # 3.33 minus the 0.33 cut
            "credits_spent": "1.66",
            "shortfall": "0.00",
        },
        "user2": {
            "id": bob_me["id"],
            "name": "Bob",
            "teaching_seconds": 500,
            "credits_earned": "1.49",  # 1.66 minus the 0.17 cut
            "credits_spent": "3.33",
            "shortfall": "0.00",
        },
        "bank_cut": "0.50",
    }
    session = ended.json()["session"]
    assert session["status"] == "completed"
    assert session["end_time"] == "2026-03-02T09:25:00Z"
    assert alice.post(path + "end/").status_code == 409

    assert alice.get("/api/users/me/").json()["credits"] == "16.34"
    assert bob.get("/api/users/me/").json()["credits"] == "13.16"
    assert Account.objects.get(kind=Account.Kind.BANK).balance == bank_before + Decimal("0.50")
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "OK" in out.getvalue()

    review = bob.post(path + "reviews/", {"rating": 5, "comment": "Patient teacher."}, format="json")
    assert review.status_code == 201, review.content
    assert alice.post(path + "reviews/", {"rating": 4, "comment": "Fun."}, format="json").status_code == 201
    assert bob.post(path + "reviews/", {"rating": 1}, format="json").status_code == 409
    assert alice.get(f"/api/users/{alice_me['id']}/").json()["total_reviews"] == 1
