"""Reads about learning posts. Every list carries the creator's name and rating in the same query,
so a page of posts costs one query however long it is."""

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower, StrIndex
from django.db.models.lookups import GreaterThan

from common.errors import NotFound
from reviews.selectors import rating_annotations

from .models import LearningPost


def _posts() -> QuerySet[LearningPost]:
    return LearningPost.objects.select_related("creator").annotate(
        creator_rating=rating_annotations("creator_id")["average_rating"]
    )


def _active() -> QuerySet[LearningPost]:
    # Posts of deactivated accounts are hidden like their profiles are.
    return _posts().filter(is_completed=False, creator__is_active=True)


def posts_active(*, topic: str = "", creator_id: int | None = None) -> QuerySet[LearningPost]:
    """Active posts, newest first; `topic` searches both topics case-insensitively."""
    posts = _active()
    topic = topic.strip()
    if topic:
        posts = posts.filter(Q(topic_to_learn__icontains=topic) | Q(topic_to_teach__icontains=topic))
    if creator_id is not None:
        posts = posts.filter(creator_id=creator_id)
    return posts.order_by("-created_at", "-id")


def posts_of(user) -> QuerySet[LearningPost]:
    """The user's own active posts, newest first."""
    return _posts().filter(creator=user, is_completed=False).order_by("-created_at", "-id")


def post_get(*, post_id) -> LearningPost:
    """Any post by id, completed ones included (links to a finished request keep working)."""
    try:
        return _posts().get(pk=post_id)
    except (LearningPost.DoesNotExist, ValueError, TypeError):
        raise NotFound("Post not found.") from None


def _matches(a, b):
    """True when either string contains the other, ignoring case. Callers exclude blank strings,
    because every string contains the empty one."""
    a, b = Lower(a), Lower(b)
    return Q(GreaterThan(StrIndex(a, b), 0)) | Q(GreaterThan(StrIndex(b, a), 0))


def post_matches(user) -> QuerySet[LearningPost]:
    """Other users' active posts offering to teach what one of my active posts wants to learn.

    Two-way barters (they also want to learn something one of my posts offers to teach) come
    first, then newest first. One query: both conditions are correlated EXISTS subqueries.
    """
    mine = LearningPost.objects.filter(creator=user, is_completed=False)
    they_teach_what_i_learn = mine.exclude(topic_to_learn="").filter(
        _matches(F("topic_to_learn"), OuterRef("topic_to_teach"))
    )
    they_learn_what_i_teach = mine.exclude(topic_to_teach="").filter(
        _matches(F("topic_to_teach"), OuterRef("topic_to_learn"))
    )
    return (
        _active()
        .exclude(creator=user)
        .exclude(topic_to_teach="")
        .exclude(topic_to_learn="")
        .filter(Exists(they_teach_what_i_learn))
        # Only the rank is selected (the serializer derives `is_two_way` from it), so the
        # database evaluates the barter subquery once per row.
        .annotate(barter_rank=Case(When(Exists(they_learn_what_i_teach), then=Value(0)), default=Value(1)))
        .order_by("barter_rank", "-created_at", "-id")
    )
