from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from presence.models import Connection, ServerProcess
from presence.selectors import online_users, user_is_online
from presence.services import (
    Departure,
    connection_close,
    connection_open,
    connections_expire,
    connections_refresh,
    process_beat,
    this_process,
)


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
        # The process holding both beats on; only the connection it stopped refreshing goes.
        process_beat(now=later)
        connections_refresh(connection_ids=["alive"], now=later - timedelta(seconds=5))
        assert connections_expire(now=later).users_offline == [user.id]
    assert list(Connection.objects.values_list("id", flat=True)) == ["alive"]
    assert broadcasts.events[-1][2]["status"] == "offline"
    assert broadcasts.events[-1][2]["user"]["id"] == user.id


def test_expiry_of_one_tab_keeps_a_user_with_another_live_tab_online(user, broadcasts):
    start = timezone.now()
    with broadcasts.committing():
        connection_open(connection_id="dead", user=user, kind="presence", now=start)
        connection_open(connection_id="alive", user=user, kind="presence", now=start + timedelta(seconds=60))
        later = start + settings.PRESENCE_TTL + timedelta(seconds=1)
        process_beat(now=later)
        assert connections_expire(now=later).users_offline == []
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


# --- a process that dies: its connections go together, within seconds ----------------------


def _crashed_process(name: str, *, beat_ago: float) -> str:
    """A process that last beat `beat_ago` seconds ago and will never beat again."""
    beat = timezone.now() - timedelta(seconds=beat_ago)
    ServerProcess.objects.create(id=name, started_at=beat, beat_at=beat)
    return name


def test_connections_of_a_process_that_stopped_beating_expire_together(user, other_user, broadcasts):
    timeout = settings.PRESENCE_PROCESS_TIMEOUT.total_seconds()
    crashed = _crashed_process("crashed", beat_ago=timeout - 1)
    with broadcasts.committing():
        connection_open(connection_id="c1", user=user, kind="presence", process=crashed)
        connection_open(connection_id="c2", user=user, kind="chat", session_id=4, process=crashed)
        connection_open(connection_id="c3", user=other_user, kind="presence", process=crashed)
        # The crash is noticed as soon as the beat is older than the timeout, long before the TTL.
        ServerProcess.objects.filter(pk=crashed).update(
            beat_at=timezone.now() - timedelta(seconds=timeout + 1)
        )
        assert not user_is_online(user_id=user.id)
        assert sorted(connections_expire().users_offline) == sorted([user.id, other_user.id])
        assert connections_expire().users_offline == []  # announced once
    assert [p["status"] for _, _, p in broadcasts.events].count("offline") == 2
    assert not Connection.objects.exists()
    assert not ServerProcess.objects.filter(pk=crashed).exists()  # nothing left to expire


def test_a_user_with_a_tab_on_a_live_process_stays_online_when_another_process_dies(user, broadcasts):
    with broadcasts.committing():
        connection_open(connection_id="here", user=user, kind="presence")
        crashed = _crashed_process("crashed", beat_ago=0)
        connection_open(connection_id="there", user=user, kind="presence", process=crashed)
        ServerProcess.objects.filter(pk=crashed).update(beat_at=timezone.now() - timedelta(minutes=1))
        assert connections_expire().users_offline == []
        assert user_is_online(user_id=user.id)
        # The last live tab closing is the one "offline", and no sweep repeats it.
        assert connection_close(connection_id="here") is True
        assert connections_expire().users_offline == []
    assert [p["status"] for _, _, p in broadcasts.events] == ["online", "offline"]


def test_closing_the_last_live_tab_while_a_dead_process_still_holds_one_is_one_offline(user, broadcasts):
    with broadcasts.committing():
        connection_open(connection_id="here", user=user, kind="presence")
        crashed = _crashed_process("crashed", beat_ago=0)
        connection_open(connection_id="there", user=user, kind="presence", process=crashed)
        ServerProcess.objects.filter(pk=crashed).update(beat_at=timezone.now() - timedelta(minutes=1))
        assert connection_close(connection_id="here") is True  # before any sweep ran
        assert connections_expire().users_offline == []
    assert [p["status"] for _, _, p in broadcasts.events] == ["online", "offline"]
    assert not Connection.objects.exists()


def test_a_session_connection_of_a_dead_process_departs_at_the_last_beat(user):
    crashed = _crashed_process("crashed", beat_ago=0)
    opened = timezone.now() - timedelta(seconds=25)
    connection_open(connection_id="s", user=user, kind="session", session_id=9, process=crashed, now=opened)
    last_beat = timezone.now() - timedelta(seconds=11)
    ServerProcess.objects.filter(pk=crashed).update(beat_at=last_beat)
    # The connection was refreshed 25 s ago; the process was known alive until its last beat.
    assert connections_expire().departures == [Departure(session_id=9, user_id=user.id, at=last_beat)]


def test_a_process_that_was_only_stalled_beats_in_again(user):
    connection_open(connection_id="a", user=user, kind="presence")
    ServerProcess.objects.all().delete()  # a sweep took it for dead while it stalled
    assert not user_is_online(user_id=user.id)
    process_beat()
    assert user_is_online(user_id=user.id)
    assert ServerProcess.objects.get().pk == this_process()
