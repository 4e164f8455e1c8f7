"""Reads about users. Ratings, credits and presence are annotated in the same query, so a list
of users costs one query however long it is."""

from django.db.models import QuerySet
from django.db.models.functions import Lower

from common.errors import NotFound
from presence.selectors import online_annotation
from reviews.selectors import rating_annotations

from .models import User


def users_public() -> QuerySet[User]:
    """Active users with everything a public profile shows."""
    return User.objects.filter(is_active=True).annotate(is_online=online_annotation(), **rating_annotations())


def users_me() -> QuerySet[User]:
    """Users with credits, presence and ratings: what `users/me` shows, in one query."""
    return User.objects.select_related("ledger_account").annotate(
        is_online=online_annotation(), **rating_annotations()
    )


def user_me(*, user_id: int) -> User:
    return users_me().get(pk=user_id)


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
