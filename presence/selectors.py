"""Reads about who is online. A user is online while any of their connections is live: its process
beat within PRESENCE_PROCESS_TIMEOUT and refreshed it within PRESENCE_TTL, whichever process that
is."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import Connection, ServerProcess

ONLINE_USERS_ON_CONNECT = 200


def live_cutoff(now=None):
    """Connections refreshed before this are gone even if their process still beats."""
    return (now or timezone.now()) - settings.PRESENCE_TTL


def beat_cutoff(now=None):
    """Processes whose last beat is older than this are dead."""
    return (now or timezone.now()) - settings.PRESENCE_PROCESS_TIMEOUT


def live(now=None) -> Q:
    """The one definition of a live connection, as a filter on Connection."""
    now = now or timezone.now()
    beating = ServerProcess.objects.filter(pk=OuterRef("process"), beat_at__gte=beat_cutoff(now))
    return Q(last_seen_at__gte=live_cutoff(now)) & Q(Exists(beating))


def live_connections(*, now=None) -> QuerySet[Connection]:
    return Connection.objects.filter(live(now))


def dead_processes(*, now=None) -> dict:
    """{process id: its last beat} of the processes that stopped beating."""
    return dict(ServerProcess.objects.filter(beat_at__lt=beat_cutoff(now)).values_list("pk", "beat_at"))


def user_is_online(*, user_id: int, now=None) -> bool:
    return live_connections(now=now).filter(user_id=user_id).exists()


def online_annotation(user_ref: str = "pk", *, now=None) -> Exists:
    """True while the user at `user_ref` (an OuterRef path) has a live connection."""
    return Exists(live_connections(now=now).filter(user=OuterRef(user_ref)))


def online_users(*, now=None) -> QuerySet:
    """Active users with a live connection, public fields only, in one query."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(online_annotation(now=now))
        .only("id", "name", "availability")
        .order_by("name", "id")
    )


def public_user(user) -> dict:
    """The fields presence payloads may carry: never the email."""
    return {"id": user.id, "name": user.name, "availability": user.availability}
