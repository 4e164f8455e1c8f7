from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from common.errors import NotFound
from tutoring.selectors import session_for_participant

from .models import Review


def _reviews() -> QuerySet[Review]:
    return Review.objects.select_related("reviewer", "reviewee").order_by("-created_at", "-id")


def reviews_received(*, user_id) -> QuerySet[Review]:
    """Reviews a (visible) user received, newest first."""
    if not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
        raise NotFound("User not found.")
    return _reviews().filter(reviewee_id=user_id)


def reviews_of_session(*, session_id, user) -> QuerySet[Review]:
    """A session's reviews, for its participants only (NotFound for anyone else)."""
    session = session_for_participant(session_id=session_id, user=user)
    return _reviews().filter(session=session)


def review_get(*, review_id) -> Review:
    return _reviews().get(pk=review_id)
