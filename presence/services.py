"""Live connections in the database, the one store every server process shares transactionally.

Each first/last decision for a user runs under a lock on that user's row, so two tabs opening or
closing at the same instant on two processes still produce exactly one "online" and one "offline".
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from common.errors import Conflict, NotFound
from common.events import PRESENCE_GROUP, publish

from .models import Connection
from .selectors import live_connections, live_cutoff, public_user, user_is_online


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


def connection_open(*, connection_id: str, user, kind: str, session_id=None, now=None) -> bool:
    """Record a new live connection; True (and an "online" update) when the user just came online.

    Raises TooManyConnections past WS_MAX_CONNECTIONS_PER_USER live connections of the user, which
    bounds what one account can make every process hold (and multiply its frame budget by).
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_user(user.pk)
        if locked is None or not locked.is_active:
            # Deleted while this socket was connecting: its close event went out before it
            # joined the user's group, so this is the last point where it can be refused.
            raise UserGone("This account is no longer active.")
        # Dead rows of this user (a crashed process) go now, so they can't announce a late "offline".
        Connection.objects.filter(user_id=user.pk, last_seen_at__lt=live_cutoff(now)).delete()
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


def connections_expire(*, now=None) -> list[int]:
    """Drop connections nobody refreshed within PRESENCE_TTL; returns the users who went offline."""
    now = now or timezone.now()
    cutoff = live_cutoff(now)
    user_ids = sorted(
        set(Connection.objects.filter(last_seen_at__lt=cutoff).values_list("user_id", flat=True))
    )
    went_offline = []
    for user_id in user_ids:
        # One short transaction per user: a sweep never holds many user locks at once.
        with transaction.atomic():
            locked = _lock_user(user_id)
            deleted, _ = Connection.objects.filter(user_id=user_id, last_seen_at__lt=cutoff).delete()
            if deleted and locked is not None and not user_is_online(user_id=user_id, now=now):
                _announce(locked, "offline")
                went_offline.append(user_id)
    return went_offline
