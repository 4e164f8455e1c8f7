"""Reads about users. Ratings, credits and presence are annotated in the same query, so a list
of users costs one query however long it is."""

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone

from common.errors import NotFound
from presence.models import Connection
from reviews.models import Review

from .models import User


def rating_annotations(user_ref: str = "pk") -> dict:
    """`average_rating` and `total_reviews` of the user at `user_ref` (an OuterRef path)."""
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


def online_annotation(user_ref: str = "pk", *, now=None):
    """True while the user at `user_ref` has a live connection on any server process."""
    cutoff = (now or timezone.now()) - settings.PRESENCE_TTL
    return Exists(Connection.objects.filter(user=OuterRef(user_ref), last_seen_at__gte=cutoff))


def users_public() -> QuerySet[User]:
    """Active users with everything a public profile shows."""
    return User.objects.filter(is_active=True).annotate(is_online=online_annotation(), **rating_annotations())


def user_me(*, user_id: int) -> User:
    """The caller with credits, presence and ratings, in one query."""
    return (
        User.objects.select_related("ledger_account")
        .annotate(is_online=online_annotation(), **rating_annotations())
        .get(pk=user_id)
    )


def users_search(*, query: str = "") -> QuerySet[User]:
    """Public profiles whose name contains `query` (any case), ordered by name then id."""
    users = users_public()
    query = query.strip()
    if query:
        users = users.filter(name__icontains=query)
    return users.order_by(Lower("name"), "id")


def user_public_get(*, user_id: int) -> User:
    """One public profile; NotFound for unknown or deactivated users."""
    user = users_public().filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    return user
