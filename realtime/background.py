"""Housekeeping every server process does on its own, so nothing depends on one special process:
beat (this process is alive, so its connections are), expire the connections of processes that
stopped beating, stop runaway teaching timers, and delete Idempotency-Keys past their 24 hours.

The sweeps lock rows, so any number of processes (and the `sweep` command) running them at the
same time do each piece of work once.
"""

import asyncio
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

_task: asyncio.Task | None = None


def beat_interval_seconds() -> float:
    from presence.services import beat_interval

    return beat_interval().total_seconds()


def presence_sweep(*, now=None) -> int:
    """Expire dead connections; a participant whose session connection died that way is present
    in the session up to its last sign of life (tutoring.timing credits timers up to there)."""
    from presence.services import connections_expire
    from tutoring.services import attendance_touch

    expiry = connections_expire(now=now)
    for departure in expiry.departures:
        try:
            attendance_touch(
                session_id=departure.session_id, user_id=departure.user_id, now=departure.at, leaving=True
            )
        except Exception:
            logger.exception(
                "recording the departure of %s from session %s failed",
                departure.user_id,
                departure.session_id,
            )
    return len(expiry.users_offline)


def sweep_once(*, now=None, timers: bool = True) -> dict:
    """One pass of the sweeps; a failure in one is logged and does not skip the others.
    `timers=False` runs only the presence sweep (the others need not run at every beat)."""
    from common.idempotency import keys_purge
    from tutoring.services import timers_sweep

    result = {"timers_stopped": 0, "users_offline": 0, "idempotency_keys_purged": 0}
    if timers:
        try:
            result["timers_stopped"] = len(timers_sweep(now=now))
        except Exception:
            logger.exception("sweeping runaway timers failed")
        try:
            result["idempotency_keys_purged"] = keys_purge(now=now)
        except Exception:
            logger.exception("purging expired idempotency keys failed")
    try:
        result["users_offline"] = presence_sweep(now=now)
    except Exception:
        logger.exception("expiring dead connections failed")
    return result


def _beat():
    from presence.services import process_beat

    process_beat()


async def sweep_forever(interval: float):
    """Beat every `interval`; with REALTIME_BACKGROUND_SWEEP, also expire dead processes'
    connections every beat (so their users go offline within seconds) and stop runaway timers
    every TIMER_SWEEP_INTERVAL."""
    timers_due_at = 0.0
    while True:
        try:
            await database_sync_to_async(_beat)()
        except Exception:  # e.g. the database is briefly unreachable: beat again next round
            logger.exception("process beat failed")
        if settings.REALTIME_BACKGROUND_SWEEP:
            timers = time.monotonic() >= timers_due_at
            try:
                await database_sync_to_async(sweep_once)(timers=timers)
            except Exception:
                logger.exception("background sweep failed")
            if timers:
                timers_due_at = time.monotonic() + settings.TIMER_SWEEP_INTERVAL
        await asyncio.sleep(interval)


def ensure_background_sweeper() -> asyncio.Task:
    """Start this process's beat-and-sweep loop, once, on the running event loop (the first
    socket calls it). It runs even with REALTIME_BACKGROUND_SWEEP off: without beats, this
    process's connections would look dead to everyone else."""
    global _task
    loop = asyncio.get_running_loop()
    if _task is not None and not _task.done() and _task.get_loop() is loop:
        return _task
    _task = loop.create_task(sweep_forever(beat_interval_seconds()))
    return _task
