import pytest

from presence.models import Connection
from presence.services import connection_close, connection_open
from tests.concurrency import race
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TABS = 6


def test_tabs_opening_at_once_announce_online_exactly_once(monkeypatch):
    monkeypatch.setattr("presence.services.publish", lambda *a: None)
    user = UserFactory()
    results = race(
        *[
            lambda i=i: connection_open(connection_id=f"tab{i}", user=user, kind="presence")
            for i in range(TABS)
        ]
    )
    assert sorted(results) == [False] * (TABS - 1) + [True]
    assert Connection.objects.filter(user=user).count() == TABS


def test_tabs_closing_at_once_announce_offline_exactly_once(monkeypatch):
    monkeypatch.setattr("presence.services.publish", lambda *a: None)
    user = UserFactory()
    for i in range(TABS):
        connection_open(connection_id=f"tab{i}", user=user, kind="presence")
    results = race(*[lambda i=i: connection_close(connection_id=f"tab{i}") for i in range(TABS)])
    assert sorted(results) == [False] * (TABS - 1) + [True]
    assert not Connection.objects.exists()
