import functools

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, DecimalField, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from common.errors import NotFound
from tutoring.selectors import session_for_participant

from .models import Review


def rating_annotations(user_ref: str = "pk") -> dict:
    """`average_rating` and `total_reviews` of the user at `user_ref` (an OuterRef path)."""
    return dict(_rating_annotations(user_ref))


@functools.cache
def _rating_annotations(user_ref: str) -> dict:
    # Built once per path: a queryset copies an expression when it resolves it, so the same
    # objects serve every query (building them was ~a third of a users/me request).
    received = Review.objects.filter(reviewee=OuterRef(user_ref)).order_by().values("reviewee")
    return {
        "average_rating": Subquery(
            received.annotate(v=Avg("rating")).values("v"),
            output_field=DecimalField(max_digits=3, decimal_places=2),
        ),
        "total_reviews": Coalesce(
            Subquery(received.annotate(n=Count("id")).values("n"), output_field=IntegerField()), Value(0)
        ),
    }


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
