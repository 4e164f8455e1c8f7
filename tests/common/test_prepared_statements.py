"""PostgreSQL runs the hot reads as prepared statements (settings: DB_PREPARED_STATEMENTS), so it
does not parse and plan them at every request. The answers must not change once a statement is
prepared: each caller still gets their own rows, after errors and rolled-back transactions too."""

import ast

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from tests.common.test_production_settings import run
from tests.conftest import authed_client
from tests.factories import SessionFactory, UserFactory

# psycopg prepares a statement on its DB_PREPARE_THRESHOLD-th run (5); PostgreSQL plans the first
# five executions for their values, then keeps one generic plan. Twelve runs get past both.
RUNS = 12


def prepared_statements(fragment: str) -> list[tuple[int, int]]:
    """(generic plans, custom plans) of this connection's prepared statements containing fragment."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE strpos(statement, %s) > 0",
            [fragment],
        )
        return cursor.fetchall()


@pytest.mark.postgres
@pytest.mark.django_db
def test_users_me_is_prepared_and_each_caller_still_gets_themselves():
    alice, bob = UserFactory(name="Alice"), UserFactory(name="Bob")
    first = {u.pk: authed_client(u).get("/api/users/me/").content for u in (alice, bob)}
    for _ in range(RUNS):
        for u in (alice, bob):
            response = authed_client(u).get("/api/users/me/")
            assert response.status_code == 200
            assert response.content == first[u.pk]  # byte for byte what it said before preparing
    assert authed_client(alice).get("/api/users/me/").json()["name"] == "Alice"
    assert authed_client(bob).get("/api/users/me/").json()["name"] == "Bob"
    plans = prepared_statements('FROM "accounts_user"')
    assert plans, "the user lookup was not prepared"
    assert any(generic > 0 for generic, _ in plans), plans  # PostgreSQL stopped planning it


@pytest.mark.postgres
@pytest.mark.django_db
def test_sessions_list_stays_right_for_each_user_once_prepared():
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    ab = SessionFactory(user1=alice, user2=bob)
    SessionFactory(user1=bob, user2=carol)
    for _ in range(RUNS):
        assert [s["id"] for s in authed_client(alice).get("/api/sessions/").json()["results"]] == [ab.pk]
        assert len(authed_client(bob).get("/api/sessions/").json()["results"]) == 2
    assert prepared_statements('FROM "tutoring_session"')


@pytest.mark.postgres
@pytest.mark.django_db
def test_prepared_statements_survive_a_rolled_back_error():
    """A failed statement aborts its transaction; psycopg's prepared statements are the session's,
    so the next requests still run them (no 'prepared statement does not exist')."""
    alice = UserFactory(name="Alice")
    for _ in range(RUNS):
        authed_client(alice).get("/api/users/me/")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email=alice.email, name="copy")
    for _ in range(3):
        response = authed_client(alice).get("/api/users/me/")
        assert response.status_code == 200
        assert response.json()["name"] == "Alice"


def options(**env) -> dict:
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['OPTIONS'])"
    )
    result = run("-c", script, **env)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout)


POSTGRES = "postgres://u@db.example.com:5432/app"


def test_postgresql_binds_on_the_server_and_prepares_after_five_runs():
    got = options(DATABASE_URL=POSTGRES)
    assert got["server_side_binding"] is True
    assert got["prepare_threshold"] == 5


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler():
    got = options(DATABASE_URL=POSTGRES, DB_PREPARED_STATEMENTS="False")
    assert "server_side_binding" not in got
    assert "prepare_threshold" not in got


def test_sqlite_is_left_alone():
    got = options(DATABASE_URL="sqlite:////tmp/prepared-statements-test.sqlite3")
    assert "server_side_binding" not in got
