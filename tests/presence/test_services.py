from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from presence.models import Connection
from presence.selectors import online_users, user_is_online
from presence.services import connection_close, connection_open, connections_expire, connections_refresh


def test_first_connection_brings_the_user_online(user, broadcasts):
    with broadcasts.committing():
        assert connection_open(connection_id="a", user=user, kind="presence") is True
    assert broadcasts.events == [
        (
            "presence",
            "presence_update",
            {
                "user": {"id": user.id, "name": user.name, "availability": user.availability},
                "status": "online",
            },
        )
    ]


def test_second_tab_is_not_a_new_online(user, broadcasts):
    with broadcasts.committing():
        connection_open(connection_id="a", user=user, kind="presence")
        assert connection_open(connection_id="b", user=user, kind="chat", session_id=1) is False
    assert len(broadcasts.events) == 1


def test_only_the_last_close_goes_offline(user, broadcasts):
    with broadcasts.committing():
        connection_open(connection_id="a", user=user, kind="presence")
        connection_open(connection_id="b", user=user, kind="session", session_id=3)
        assert connection_close(connection_id="a") is False
        assert user_is_online(user_id=user.id)
        assert connection_close(connection_id="b") is True
        assert not user_is_online(user_id=user.id)
    assert [p["status"] for _, _, p in broadcasts.events] == ["online", "offline"]


def test_closing_an_unknown_connection_changes_nothing(user, broadcasts):
    with broadcasts.committing():
        assert connection_close(connection_id="nope") is False
    assert broadcasts.events == []


def test_unrefreshed_connection_expires_and_user_goes_offline(user, other_user, broadcasts):
    start = timezone.now()
    with broadcasts.committing():
        connection_open(connection_id="dead", user=user, kind="presence", now=start)
        connection_open(connection_id="alive", user=other_user, kind="presence", now=start)
        later = start + settings.PRESENCE_TTL + timedelta(seconds=1)
        connections_refresh(connection_ids=["alive"], now=later - timedelta(seconds=5))
        assert connections_expire(now=later) == [user.id]
    assert list(Connection.objects.values_list("id", flat=True)) == ["alive"]
    assert broadcasts.events[-1][2]["status"] == "offline"
    assert broadcasts.events[-1][2]["user"]["id"] == user.id


def test_expiry_of_one_tab_keeps_a_user_with_another_live_tab_online(user, broadcasts):
    start = timezone.now()
    with broadcasts.committing():
        connection_open(connection_id="dead", user=user, kind="presence", now=start)
        connection_open(connection_id="alive", user=user, kind="presence", now=start + timedelta(seconds=60))
        assert connections_expire(now=start + settings.PRESENCE_TTL + timedelta(seconds=1)) == []
    assert [p["status"] for _, _, p in broadcasts.events] == ["online"]


def test_refresh_reports_connections_that_expired_meanwhile(user):
    connection_open(connection_id="a", user=user, kind="presence")
    assert connections_refresh(connection_ids=["a", "gone"]) == {"gone"}


def test_online_users_lists_public_fields_of_users_with_a_live_connection(user, other_user):
    connection_open(connection_id="a", user=user, kind="chat", session_id=5)
    assert [u.id for u in online_users()] == [user.id]


def test_connections_past_the_per_user_cap_are_refused(user, settings):
    from presence.services import TooManyConnections

    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    connection_open(connection_id="a", user=user, kind="presence")
    connection_open(connection_id="b", user=user, kind="presence")
    with pytest.raises(TooManyConnections):
        connection_open(connection_id="c", user=user, kind="presence")
    assert set(Connection.objects.values_list("id", flat=True)) == {"a", "b"}
    # Re-registering an existing connection (after a stall) is not a new one.
    assert connection_open(connection_id="b", user=user, kind="presence") is False


def test_dead_connections_do_not_count_toward_the_cap(user, settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 1
    old = timezone.now() - settings.PRESENCE_TTL - timedelta(seconds=1)
    Connection.objects.create(id="dead", user=user, kind="presence", opened_at=old, last_seen_at=old)
    connection_open(connection_id="a", user=user, kind="presence")
    assert list(Connection.objects.values_list("id", flat=True)) == ["a"]


def test_closing_a_connection_whose_user_row_is_gone_is_not_an_offline(user, broadcasts, monkeypatch):
    connection_open(connection_id="a", user=user, kind="presence")
    # The row vanished between looking the connection up and locking its user.
    monkeypatch.setattr("presence.services._lock_user", lambda user_id: None)
    with broadcasts.committing():
        assert connection_close(connection_id="a") is False
    assert broadcasts.events == []
