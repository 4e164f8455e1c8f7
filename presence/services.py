"""Live connections in the database, the one store every server process shares transactionally.

Each first/last decision for a user runs under a lock on that user's row, so two tabs opening or
closing at the same instant on two processes still produce exactly one "online" and one "offline".
Every such decision also drops the user's dead connections (a crashed process's) in the same
transaction, so a later sweep can't announce the same "offline" a second time.
"""

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from common.errors import Conflict, NotFound
from common.events import PRESENCE_GROUP, publish

from .models import Connection, ServerProcess
from .selectors import (
    beat_cutoff,
    dead_processes,
    live,
    live_connections,
    live_cutoff,
    public_user,
    user_is_online,
)

_process_id: tuple[int, str] | None = None
_last_beat: datetime | None = None  # when this process last beat, by its own clock


def beat_interval() -> timedelta:
    """Four beats per PRESENCE_PROCESS_TIMEOUT: a stall of a beat or two is not death."""
    return settings.PRESENCE_PROCESS_TIMEOUT / 4


def this_process() -> str:
    """This server process's id in the shared store; a forked worker gets its own."""
    global _process_id
    pid = os.getpid()
    if _process_id is None or _process_id[0] != pid:
        _process_id = (pid, f"{socket.gethostname()[:40]}:{pid}:{secrets.token_hex(4)}")
    return _process_id[1]


def process_beat(*, process_id: str | None = None, now=None) -> None:
    """This process is alive: one UPDATE, or an INSERT the first time (or after a sweep took a
    stalled process for dead and forgot it)."""
    global _last_beat
    now = now or timezone.now()
    process_id = process_id or this_process()
    if process_id == this_process():
        _last_beat = now
    if ServerProcess.objects.filter(pk=process_id, beat_at__lt=now).update(beat_at=now):
        return
    if ServerProcess.objects.filter(pk=process_id).exists():
        return  # it already beat at `now` or later
    try:
        with transaction.atomic():
            ServerProcess.objects.create(id=process_id, started_at=now, beat_at=now)
    except IntegrityError:  # a concurrent beat of the same process created it
        pass


class TooManyConnections(Conflict):
    """The user already holds WS_MAX_CONNECTIONS_PER_USER live connections."""


class UserGone(NotFound):
    """The user was deactivated or deleted before their connection could be recorded."""


def _lock_user(user_id: int):
    """The user's row, locked: the point where every first/last decision for them is serialised."""
    return (
        get_user_model()
        .objects.select_for_update()
        .only("id", "name", "availability", "is_active")
        .filter(pk=user_id)
        .first()
    )


def _announce(user, status: str) -> None:
    publish(PRESENCE_GROUP, "presence_update", {"user": public_user(user), "status": status})


def process_beat_if_due(*, now=None) -> None:
    """Beat unless this process beat within the beat interval: called on socket activity, so a
    stalled beat loop (or a frozen clock in a test) can't make live connections look dead."""
    now = now or timezone.now()
    if _last_beat is None or now - _last_beat >= beat_interval():
        process_beat(now=now)


def _drop_dead(user_id: int, now) -> list[dict]:
    """Delete the user's dead connections (caller holds the user's lock); returns what they were."""
    dead = Connection.objects.filter(user_id=user_id).exclude(live(now))
    rows = list(dead.values("session_id", "process", "last_seen_at"))
    if rows:
        dead.delete()
    return rows


def connection_open(
    *, connection_id: str, user, kind: str, session_id=None, process: str | None = None, now=None
) -> bool:
    """Record a new live connection held by `process` (this one by default); True (and an
    "online" update) when the user just came online.

    Raises TooManyConnections past WS_MAX_CONNECTIONS_PER_USER live connections of the user, which
    bounds what one account can make every process hold (and multiply its frame budget by).
    """
    now = now or timezone.now()
    process = process or this_process()
    process_beat(process_id=process, now=now)  # a connection of a process that never beat is dead
    with transaction.atomic():
        locked = _lock_user(user.pk)
        if locked is None or not locked.is_active:
            # Deleted while this socket was connecting: its close event went out before it
            # joined the user's group, so this is the last point where it can be refused.
            raise UserGone("This account is no longer active.")
        # Dead rows of this user (a crashed process) go now, so they can't announce a late "offline".
        _drop_dead(user.pk, now)
        others = live_connections(now=now).filter(user_id=user.pk).exclude(pk=connection_id).count()
        if others >= settings.WS_MAX_CONNECTIONS_PER_USER:
            raise TooManyConnections(
                f"At most {settings.WS_MAX_CONNECTIONS_PER_USER} open sockets per user; close one first."
            )
        was_online = others > 0 or live_connections(now=now).filter(pk=connection_id).exists()
        Connection.objects.update_or_create(
            id=connection_id,
            defaults={
                "user_id": user.pk,
                "kind": kind,
                "session_id": session_id,
                "process": process,
                "opened_at": now,
                "last_seen_at": now,
            },
        )
        if not was_online:
            _announce(locked, "online")
    return not was_online


def connection_close(*, connection_id: str, now=None) -> bool:
    """Forget a connection; True (and an "offline" update) when it was the user's last live one."""
    now = now or timezone.now()
    user_id = Connection.objects.filter(pk=connection_id).values_list("user_id", flat=True).first()
    if user_id is None:
        return False
    with transaction.atomic():
        locked = _lock_user(user_id)
        deleted, _ = Connection.objects.filter(pk=connection_id).delete()
        if not deleted or locked is None:  # a sweeper expired it first and made the decision
            return False
        _drop_dead(user_id, now)
        went_offline = not user_is_online(user_id=user_id, now=now)
        if went_offline:
            _announce(locked, "offline")
    return went_offline


def connections_refresh(*, connection_ids, now=None) -> set[str]:
    """Mark connections as still alive; returns the ids that no longer exist (expired meanwhile)."""
    ids = set(connection_ids)
    if not ids:
        return set()
    now = now or timezone.now()
    Connection.objects.filter(pk__in=ids).update(last_seen_at=now)
    found = set(Connection.objects.filter(pk__in=ids).values_list("pk", flat=True))
    return ids - found


@dataclass(frozen=True)
class Departure:
    """A participant's connection to a session ended without a close: their presence there
    ended `at` (the last sign of life of the connection)."""

    session_id: int
    user_id: int
    at: datetime


@dataclass
class Expiry:
    users_offline: list[int] = field(default_factory=list)
    departures: list[Departure] = field(default_factory=list)


def _presence_ended(row: dict, dead: dict) -> datetime:
    """The last sign of life of a dead connection: its own refresh, or its process's last beat if
    the process died while the connection was still fresh (refreshes are far apart, beats close)."""
    beat = dead.get(row["process"])
    if beat is not None and row["last_seen_at"] >= beat - settings.PRESENCE_TTL:
        return max(beat, row["last_seen_at"])
    return row["last_seen_at"]


def connections_expire(*, now=None) -> Expiry:
    """Drop dead connections: every connection of a process that stopped beating, together, and
    any connection its process stopped refreshing for PRESENCE_TTL. Announces each user whose last
    connection that was offline, exactly once however many processes sweep at the same time."""
    now = now or timezone.now()
    dead = dead_processes(now=now)
    candidates = Connection.objects.filter(Q(last_seen_at__lt=live_cutoff(now)) | Q(process__in=list(dead)))
    user_ids = sorted(set(candidates.values_list("user_id", flat=True)))
    expiry = Expiry()
    for user_id in user_ids:
        # One short transaction per user: a sweep never holds many user locks at once.
        with transaction.atomic():
            locked = _lock_user(user_id)
            rows = _drop_dead(user_id, now)
            expiry.departures += [
                Departure(session_id=row["session_id"], user_id=user_id, at=_presence_ended(row, dead))
                for row in rows
                if row["session_id"] is not None
            ]
            if rows and locked is not None and not user_is_online(user_id=user_id, now=now):
                _announce(locked, "offline")
                expiry.users_offline.append(user_id)
    # Dead processes holding nothing are forgotten; one that was only stalled beats in again.
    holding = Connection.objects.filter(process=OuterRef("pk"))
    ServerProcess.objects.filter(beat_at__lt=beat_cutoff(now)).exclude(Exists(holding)).delete()
    return expiry
