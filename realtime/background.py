"""Housekeeping every server process does on its own, so nothing depends on one special process:
stop runaway teaching timers, expire connections of processes that died, and delete
Idempotency-Keys past their 24 hours.

Both sweeps lock rows, so any number of processes (and the `sweep` command) running them at the
same time do each piece of work once.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

_task: asyncio.Task | None = None


def sweep_once(*, now=None) -> dict:
    """One pass of every sweep; a failure in one is logged and does not skip the others."""
    from common.idempotency import keys_purge
    from presence.services import connections_expire
    from tutoring.services import timers_sweep

    result = {"timers_stopped": 0, "users_offline": 0, "idempotency_keys_purged": 0}
    try:
        result["timers_stopped"] = len(timers_sweep(now=now))
    except Exception:
        logger.exception("sweeping runaway timers failed")
    try:
        result["users_offline"] = len(connections_expire(now=now))
    except Exception:
        logger.exception("expiring dead connections failed")
    try:
        result["idempotency_keys_purged"] = keys_purge(now=now)
    except Exception:
        logger.exception("purging expired idempotency keys failed")
    return result


async def sweep_forever(interval: float):
    while True:
        await asyncio.sleep(interval)
        try:
            await database_sync_to_async(sweep_once)()
        except Exception:  # e.g. the database is briefly unreachable: try again next round
            logger.exception("background sweep failed")


def ensure_background_sweeper() -> asyncio.Task | None:
    """Start this process's sweep loop, once, on the running event loop (the first socket calls it)."""
    global _task
    if not settings.REALTIME_BACKGROUND_SWEEP:
        return None
    loop = asyncio.get_running_loop()
    if _task is not None and not _task.done() and _task.get_loop() is loop:
        return _task
    _task = loop.create_task(sweep_forever(settings.TIMER_SWEEP_INTERVAL))
    return _task
