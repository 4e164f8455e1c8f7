from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.lookups import In

from common.errors import NotFound
from common.prepared import PreparedList, padded, prepared, slots

from .models import Attendance, Session, TeachingTimer


def sessions_of(user) -> QuerySet[Session]:
    """The sessions `user` (a user or a user id) takes part in."""
    return Session.objects.filter(Q(user1=user) | Q(user2=user))


def unfinished_session_ids_of(user) -> list[int]:
    """Ids of the user's pending and active sessions, oldest first."""
    return list(
        sessions_of(user).filter(status__in=Session.UNFINISHED).order_by("id").values_list("id", flat=True)
    )


def _running() -> QuerySet[TeachingTimer]:
    """Timers still running (not stopped yet)."""
    return TeachingTimer.objects.filter(end_time__isnull=True)


def _running_timers() -> Prefetch:
    return Prefetch("timers", queryset=_running(), to_attr="running_timers")


def _sessions_with_participants(user) -> QuerySet[Session]:
    return sessions_of(user).select_related("user1", "user2")


def sessions_with_details(user) -> QuerySet[Session]:
    """The user's sessions with everything the representation shows, in a fixed number of queries."""
    return _sessions_with_participants(user).prefetch_related(_running_timers())


@prepared(shape=("low", "high"))
def _sessions_page(*, user_id, low, high):
    return _sessions_with_participants(user_id)[low:high]


@prepared(shape=("slots",))
def _running_timers_of(*, slots, session_ids):
    # The lookup itself, not `session_id__in=`: the foreign key's own `__in` converts each item
    # to an int when the query is built, before the placeholders have values.
    in_page = In(F("session_id"), [session_ids.at(i) for i in range(slots)])
    return _running().filter(in_page).order_by("id")


class SessionPages(PreparedList):
    """`sessions_with_details(user)` for a paginator: the page and count SQL are prepared
    (common.prepared); then the page's running timers, as `_running_timers()` would prefetch
    them (`running_timers`, a list per session), by a prepared query too: Django's prefetch
    built and compiled its queryset for every page (about half of a sessions/ request)."""

    def __getitem__(self, item):
        page = super().__getitem__(item)
        if not page:
            return page
        count = slots(len(page))
        by_session = {session.pk: session for session in page}
        for session in page:
            session.running_timers = []
        for timer in _running_timers_of.list(slots=count, session_ids=padded(by_session, count)):
            session = by_session[timer.session_id]
            timer.session = session  # what the prefetch would have cached on the timer
            session.running_timers.append(timer)
        return page


def session_pages(user) -> SessionPages:
    return SessionPages(_sessions_page, user_id=user.pk)


def _participant_get(queryset: QuerySet[Session], session_id) -> Session:
    try:
        return queryset.get(pk=session_id)
    except (Session.DoesNotExist, ValueError, TypeError):
        raise NotFound("Session not found.") from None


def session_for_participant(*, session_id, user) -> Session:
    """The session if `user` takes part in it; NotFound otherwise, so outsiders learn nothing."""
    return _participant_get(sessions_of(user), session_id)


def session_locked_for_participant(*, session_id, user) -> Session:
    """Like session_for_participant, with the session row locked until the transaction ends:
    every write to a session (or into it, like a chat message) queues up behind this lock."""
    return _participant_get(
        sessions_of(user).select_for_update(of=("self",)).select_related("user1", "user2"), session_id
    )


def session_detail_for_participant(*, session_id, user) -> Session:
    """Like session_for_participant, loaded for session_representation."""
    return _participant_get(sessions_with_details(user), session_id)


def running_timer_of(session: Session) -> TeachingTimer | None:
    prefetched = getattr(session, "running_timers", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return _running().filter(session=session).first()


def last_seen_of(*, session_id: int, user_id: int):
    return (
        Attendance.objects.filter(session_id=session_id, user_id=user_id)
        .values_list("last_seen_at", flat=True)
        .first()
    )
