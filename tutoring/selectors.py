from django.db.models import Q, QuerySet

from common.errors import NotFound

from .models import Session


def sessions_of(user) -> QuerySet[Session]:
    return Session.objects.filter(Q(user1=user) | Q(user2=user))


def session_for_participant(*, session_id, user) -> Session:
    """The session if `user` takes part in it; NotFound otherwise, so outsiders learn nothing."""
    try:
        return sessions_of(user).get(pk=session_id)
    except (Session.DoesNotExist, ValueError, TypeError):
        raise NotFound("Session not found.") from None
