"""Reads about users. Ratings, credits and presence are annotated in the same query, so a list
of users costs one query however long it is."""

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from common.errors import NotFound
from common.prepared import prepared
from presence.selectors import online_annotation
from reviews.selectors import rating_annotations

from . import identity
from .models import User


def users_public() -> QuerySet[User]:
    """Active users with everything a public profile shows."""
    return User.objects.filter(is_active=True).annotate(is_online=online_annotation(), **rating_annotations())


def users_me(*, now=None) -> QuerySet[User]:
    """Users with credits, presence and ratings: what `users/me` shows, in one query."""
    return User.objects.select_related("ledger_account").annotate(
        is_online=online_annotation(now=now), **rating_annotations()
    )


# Prepared (common.prepared): every authenticated request runs one of these two, so their SQL is
# compiled once per process; the selectors above stay the definition of what they load.
@prepared
def _user_me(*, user_id, now):
    return users_me(now=now).filter(pk=user_id)


@prepared
def _user(*, user_id):
    return User.objects.filter(pk=user_id)


def user_me(*, user_id: int) -> User:
    """One user as `users/me` shows them; User.DoesNotExist if there is none."""
    return _user_me.get(user_id=user_id, now=timezone.now())


def user_by_id(*, user_id: int) -> User:
    """One user, any state (authentication checks is_active itself); User.DoesNotExist if none."""
    return _user.get(user_id=user_id)


def user_me_just_created(*, user: User) -> User:
    """What `user_me` would read for a user the signup created a moment ago, without the query:
    nobody has reviewed them yet, and they have no live connection (a socket needs the token the
    signup is about to answer). Their ledger account, with the grant, is the one create_user
    opened on this instance."""
    user.is_online = False
    user.average_rating = None
    user.total_reviews = 0
    return user


SEARCH_LIMIT = 20


def users_search(*, query: str) -> list[User]:
    """The type-ahead: at most SEARCH_LIMIT public profiles whose name contains `query` in any
    look-alike spelling (compared as accounts.identity compares names), names starting with it
    first, then by name. A blank query matches nobody (and costs no query): listing every user is
    not what a type-ahead is for."""
    key = identity.search_key(query)
    if not key:
        return []
    prefix_first = Case(
        When(name_key__startswith=key, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    users = users_public().filter(name_key__contains=key).order_by(prefix_first, "name_key", "id")
    return list(users[:SEARCH_LIMIT])


def user_public_get(*, user_id: int) -> User:
    """One public profile; NotFound for unknown or deactivated users."""
    user = users_public().filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    return user
