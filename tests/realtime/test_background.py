import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from presence.models import Connection, ServerProcess
from presence.services import this_process
from realtime import background
from realtime.background import sweep_forever, sweep_once
from tests.factories import ActiveSessionFactory, UserFactory
from tutoring.models import Attendance

from .conftest import ws


async def test_sweeper_starts_once_per_event_loop(settings):
    settings.REALTIME_BACKGROUND_SWEEP = True
    first = background.ensure_background_sweeper()
    try:
        assert background.ensure_background_sweeper() is first
        assert not first.done()
    finally:
        first.cancel()
    await asyncio.sleep(0)
    replacement = background.ensure_background_sweeper()  # a finished task is replaced, not trusted
    assert replacement is not first
    replacement.cancel()


@pytest.mark.django_db(transaction=True)
async def test_with_sweeping_switched_off_the_loop_still_beats(settings, monkeypatch):
    settings.REALTIME_BACKGROUND_SWEEP = False
    swept = []
    monkeypatch.setattr(background, "sweep_once", lambda **kw: swept.append(1))
    task = asyncio.ensure_future(sweep_forever(0.01))
    try:
        for _ in range(200):
            if await sync_to_async(ServerProcess.objects.filter(pk=this_process()).exists)():
                break
            await asyncio.sleep(0.01)
        assert await sync_to_async(ServerProcess.objects.filter(pk=this_process()).exists)()
    finally:
        task.cancel()
    assert swept == []  # left to `manage.py sweep --loop`


@pytest.mark.django_db(transaction=True)
async def test_sweep_loop_survives_a_failing_round(monkeypatch, settings):
    settings.REALTIME_BACKGROUND_SWEEP = True
    rounds = []

    def flaky(**kwargs):
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("database restarting")
        return {}

    monkeypatch.setattr(background, "sweep_once", flaky)
    task = asyncio.ensure_future(sweep_forever(0.01))
    for _ in range(200):
        if len(rounds) >= 3:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    assert len(rounds) >= 3


def test_a_failing_timer_sweep_does_not_stop_connection_expiry(db, monkeypatch, user):
    monkeypatch.setattr("tutoring.services.timers_sweep", lambda **kw: 1 / 0)
    old = timezone.now() - timedelta(hours=1)
    Connection.objects.create(id="old", user=user, kind="presence", opened_at=old, last_seen_at=old)
    assert sweep_once() == {"timers_stopped": 0, "users_offline": 1, "idempotency_keys_purged": 0}


def test_sweep_command_runs_both_sweeps_once(db, user, capsys):
    old = timezone.now() - timedelta(hours=1)
    Connection.objects.create(id="old", user=user, kind="presence", opened_at=old, last_seen_at=old)
    call_command("sweep")
    assert "1 user(s) went offline" in capsys.readouterr().out
    assert not Connection.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_open_socket_keeps_its_connection_and_attendance_fresh(monkeypatch):
    monkeypatch.setattr("realtime.consumers.base.refresh_interval_seconds", lambda: 0.05)
    session = await sync_to_async(ActiveSessionFactory)()
    sock = await ws(f"/ws/chat/{session.pk}/", user=session.user1)
    # Pretend a sweep on another process expired this connection while this process stalled.
    await sync_to_async(Connection.objects.all().delete)()
    await sync_to_async(Attendance.objects.all().delete)()
    for _ in range(100):
        if await sync_to_async(Connection.objects.exists)():
            break
        await asyncio.sleep(0.02)
    assert await sync_to_async(Connection.objects.filter(user=session.user1).exists)()
    assert await sync_to_async(Attendance.objects.filter(session=session, user=session.user1).exists)()
    await sock.close()


@pytest.mark.django_db(transaction=True)
async def test_closing_a_socket_removes_its_connection():
    user = await sync_to_async(UserFactory)()
    sock = await ws("/ws/presence/", user=user)
    await sock.recv()
    assert await sync_to_async(Connection.objects.count)() == 1
    await sock.close()
    assert await sync_to_async(Connection.objects.count)() == 0


def test_a_teacher_whose_process_died_is_credited_up_to_its_last_beat(db):
    from presence.services import connection_open
    from tutoring import services

    session = ActiveSessionFactory()
    teacher = session.user1
    last_beat = timezone.now() - timedelta(seconds=11)
    start = last_beat - timedelta(seconds=60)
    ServerProcess.objects.create(id="crashed", started_at=start, beat_at=start)
    # The socket opened at the start; its refresh came every 30 s, the last one 25 s before the
    # process died (and with it the teacher's last recorded attendance).
    connection_open(
        connection_id="crashed!s",
        user=teacher,
        kind="session",
        session_id=session.pk,
        process="crashed",
        now=start,
    )
    services.timer_start(session_id=session.pk, user=teacher, now=start)
    services.attendance_touch(session_id=session.pk, user_id=teacher.pk, now=start + timedelta(seconds=35))
    ServerProcess.objects.filter(pk="crashed").update(beat_at=last_beat)

    assert sweep_once()["users_offline"] == 1
    assert Attendance.objects.get(session=session, user=teacher).last_seen_at == last_beat
    # Nobody comes back: past the grace period the timer ends where presence ended.
    (timer,) = services.timers_sweep(now=last_beat + settings.TIMER_DISCONNECT_GRACE + timedelta(seconds=1))
    assert (timer.end_time, timer.duration_seconds) == (last_beat, 60)
