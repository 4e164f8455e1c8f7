"""Reads about learning posts. Every list carries the creator's name and rating in the same query,
so a page of posts costs one query however long it is."""

import functools
import operator

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower, StrIndex
from django.db.models.lookups import GreaterThan

from accounts.models import User
from accounts.selectors import user_by_id
from common.errors import NotFound
from common.page_cache import PageCache
from common.prepared import PreparedList, prepared
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


# What a post's representation reads (learning.serializers.PostOutputSerializer's sources): lists
# select these as `.values()` rows, so no model instance (nor the creator's) is built.
POST_ROW = (
    "id",
    "creator_id",
    "creator__name",
    "creator_rating",
    "topic_to_learn",
    "topic_to_teach",
    "ok_with_just_learning",
    "bounty_enabled",
    "created_at",
    "is_completed",
)


@prepared(shape=("low", "high"))
def _posts_active_page(*, low, high):
    return posts_active().values(*POST_ROW)[low:high]


# The first pages of `posts_active()` without filters, as represented, per process while no
# write changed them: learning.services.posts_list_changed() is the one way to say one did
# (docs/learning.md, "The posts page cache").
# On PostgreSQL its version is a sequence (migration 0004), read with the caller (below).
POSTS_ACTIVE_PAGES = PageCache("posts-active", sequence="learning_posts_page_version")

# The attribute user_reading_posts puts the list's version in.
PAGE_VERSION_ATTRIBUTE = "posts_page_version"


@prepared
def _user_reading_posts(*, user_id):
    return User.objects.filter(pk=user_id).annotate(
        **{PAGE_VERSION_ATTRIBUTE: POSTS_ACTIVE_PAGES.version_expression()}
    )


def user_reading_posts(*, user_id: int) -> User:
    """The caller of the posts list, as accounts.selectors.user_by_id loads them; where the
    list's page version lives in the database, it is read in the same statement (the attribute
    PAGE_VERSION_ATTRIBUTE), so a kept page costs the request no round trip of its own."""
    if not POSTS_ACTIVE_PAGES.in_database():
        return user_by_id(user_id=user_id)
    return _user_reading_posts.get(user_id=user_id)


def posts_active_pages(*, page_version=None) -> PreparedList:
    """`posts_active()` without filters, for a paginator: the list every visitor opens first,
    so its page and count SQL are compiled once per process (common.prepared) and its first
    pages are served from POSTS_ACTIVE_PAGES (common.pagination), under `page_version` when
    the caller read it (user_reading_posts), else under the version read then."""
    return PreparedList(_posts_active_page, page_cache=POSTS_ACTIVE_PAGES, page_version=page_version)


def posts_active_for_page(*, topic: str = "", creator_id: int | None = None, page_version=None):
    """`posts_active(...)` for a paginator, as POST_ROW rows: without filters (a blank topic is
    none, as in posts_active) the prepared pages above, otherwise the queryset."""
    if not topic.strip() and creator_id is None:
        return posts_active_pages(page_version=page_version)
    return posts_active(topic=topic, creator_id=creator_id).values(*POST_ROW)


def posts_of(user) -> QuerySet[LearningPost]:
    """The user's own active posts, newest first."""
    return _posts().filter(creator=user, is_completed=False).order_by("-created_at", "-id")


def post_get(*, post_id) -> LearningPost:
    """Any post by id, completed ones included (links to a finished request keep working)."""
    try:
        return _posts().get(pk=post_id)
    except (LearningPost.DoesNotExist, ValueError, TypeError):
        raise NotFound("Post not found.") from None


def _matches(key, topic):
    """True when the stored key (a topic lowered by the database) and `topic` contain one
    another, ignoring case. Callers exclude blank strings, because every string contains the
    empty one."""
    topic = Lower(topic)
    return Q(GreaterThan(StrIndex(key, topic), 0)) | Q(GreaterThan(StrIndex(topic, key), 0))


# Above this many distinct topics of mine, the conditions are too many to spell out (SQLite
# limits an expression's depth to 1000): the query then compares through EXISTS subqueries.
MATCH_TOPICS_INLINE_MAX = 100


def _contains_any(field: str, topics: set[str]) -> Q:
    return functools.reduce(operator.or_, (_matches(F(field), Value(topic)) for topic in sorted(topics)))


def post_matches(user) -> QuerySet[LearningPost]:
    """Other users' active posts offering to teach what one of my active posts wants to learn.

    Two-way barters (they also want to learn something one of my posts offers to teach) come
    first, then newest first. One query for my topics, one for the page: my (few) topics are
    written into the page query as literals, so each candidate post costs a few string
    comparisons instead of two correlated subqueries (25x cheaper with 100,000 posts).
    """
    mine = LearningPost.objects.filter(creator=user, is_completed=False)
    topics = list(mine.values_list("topic_to_learn", "topic_to_teach"))
    learn = {learn for learn, _ in topics if learn}
    teach = {teach for _, teach in topics if teach}
    if not learn:
        return _posts().none()
    if max(len(learn), len(teach)) > MATCH_TOPICS_INLINE_MAX:
        they_teach_what_i_learn = Exists(
            mine.exclude(topic_to_learn="").filter(_matches(OuterRef("teach_key"), F("topic_to_learn")))
        )
        they_learn_what_i_teach = Exists(
            mine.exclude(topic_to_teach="").filter(_matches(OuterRef("learn_key"), F("topic_to_teach")))
        )
    else:
        they_teach_what_i_learn = _contains_any("teach_key", learn)
        they_learn_what_i_teach = _contains_any("learn_key", teach) if teach else None
    barter_rank = (
        Case(When(they_learn_what_i_teach, then=Value(0)), default=Value(1))
        if they_learn_what_i_teach is not None
        else Value(1)
    )
    return (
        _active()
        .exclude(creator=user)
        .exclude(topic_to_teach="")
        .exclude(topic_to_learn="")
        .filter(they_teach_what_i_learn)
        # Only the rank is selected (the serializer derives `is_two_way` from it).
        .annotate(barter_rank=barter_rank)
        .order_by("barter_rank", "-created_at", "-id")
    )
