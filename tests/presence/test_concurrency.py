from datetime import timedelta

import pytest
from django.utils import timezone

from presence.models import Connection, ServerProcess
from presence.services import connection_close, connection_open, connections_expire
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


def test_processes_sweeping_a_dead_process_at_once_announce_each_user_offline_exactly_once(monkeypatch):
    announced = []
    monkeypatch.setattr(
        "presence.services._announce", lambda user, status: announced.append((user.pk, status))
    )
    users = UserFactory.create_batch(4)
    stay = UserFactory()  # also has a tab on a live process
    beat = timezone.now()
    ServerProcess.objects.create(id="crashed", started_at=beat, beat_at=beat)
    for user in [*users, stay]:
        for tab in range(2):
            connection_open(connection_id=f"{user.pk}-{tab}", user=user, kind="presence", process="crashed")
    connection_open(connection_id="live", user=stay, kind="presence")
    ServerProcess.objects.filter(pk="crashed").update(beat_at=beat - timedelta(minutes=1))
    announced.clear()

    results = race(*[lambda: connections_expire().users_offline for _ in range(TABS)])
    assert sorted(u for result in results for u in result) == sorted(u.pk for u in users)
    assert sorted(announced) == sorted((u.pk, "offline") for u in users)
    assert list(Connection.objects.values_list("pk", flat=True)) == ["live"]
