"""Reads about learning posts. Every list carries the creator's name and rating in the same query,
so a page of posts costs one query however long it is."""

import functools
import itertools
import operator

from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Value, When, Window
from django.db.models.functions import StrIndex
from django.db.models.lookups import Exact, GreaterThan

from accounts.models import User
from accounts.selectors import user_by_id
from common.errors import NotFound
from common.page_cache import PageCache
from common.pagination import LIST_TOTAL
from common.prepared import PreparedList, padded, prepared, slots
from reviews.selectors import rating_annotations

from .models import LearningPost


def _posts() -> QuerySet[LearningPost]:
    return LearningPost.objects.select_related("creator").annotate(
        creator_rating=rating_annotations("creator_id")["average_rating"]
    )


# An active post: not completed, and its creator's account not deactivated (posts of deactivated
# accounts are hidden like their profiles are).
_ACTIVE = Q(is_completed=False, creator__is_active=True)


def _active() -> QuerySet[LearningPost]:
    return _posts().filter(_ACTIVE)


def _active_of(user_id) -> QuerySet[LearningPost]:
    """The user's own posts still open (what they want to learn now)."""
    return LearningPost.objects.filter(creator_id=user_id, is_completed=False)


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


def _matches(key, other):
    """True when two stored keys (topics lowered by the database) contain one another. Callers
    exclude blank keys, because every string contains the empty one."""
    return Q(GreaterThan(StrIndex(key, other), 0)) | Q(GreaterThan(StrIndex(other, key), 0))


# Above this many distinct topics of mine, the conditions are too many to spell out (SQLite
# limits an expression's depth to 1000): the query then compares through EXISTS subqueries.
MATCH_TOPICS_INLINE_MAX = 100


def _matches_any(field: str, keys, joined, separator) -> Q:
    """`_matches` of the stored key in `field` against any of `keys` (a list of my keys; a NULL
    one matches nothing, the slots a prepared query leaves unused). "The key lies inside one of
    mine" is one STRPOS in `joined`, my keys each between two `separator`s, which none of them
    contains (`joined_keys`): an occurrence of the key there that holds no separator lies inside
    one of my keys. Per post that is one test instead of one per key of mine (~2 ms less of a
    10,000-post ranking, docs/learning.md "Matching")."""
    key = F(field)
    contains = functools.reduce(operator.or_, (Q(GreaterThan(StrIndex(key, mine), 0)) for mine in keys))
    inside = Q(GreaterThan(StrIndex(joined, key), 0)) & Q(Exact(StrIndex(key, separator), 0))
    return contains | inside


def joined_keys(keys) -> tuple[str, str]:
    """(`keys` joined, each between two separators; the separator): a character none of them
    contains, so no occurrence of a separator-free string in the joined text spans two keys."""
    text = "".join(keys)
    # Control characters first (no topic has them in practice), then as many others as it takes:
    # one of any len(text) + 1 candidates is free. No surrogates: they have no UTF-8 form.
    candidates = map(chr, itertools.chain(range(0x1F, 0, -1), range(0xE000, 0x110000)))
    separator = next(c for c in candidates if c not in text)
    return separator + separator.join(keys) + separator, separator


def _ranked_matches(*, user_id, they_teach_what_i_learn, they_learn_what_i_teach):
    """Matches as (`id`, `barter_rank`, the list's length) rows in their order, and nothing else:
    ranking reads every matching post, so what each of them carries through the ranking is kept
    narrow (no creator, no rating); the page's posts are loaded after (_posts_by_id)."""
    barter_rank = (
        Case(When(they_learn_what_i_teach, then=Value(0)), default=Value(1))
        if they_learn_what_i_teach is not None
        else Value(1)
    )
    return (
        LearningPost.objects.filter(_ACTIVE)
        .exclude(creator_id=user_id)
        .exclude(topic_to_teach="")
        .exclude(topic_to_learn="")
        .filter(they_teach_what_i_learn)
        .annotate(barter_rank=barter_rank, **{LIST_TOTAL: Window(Count("*"))})
        .order_by("barter_rank", "-created_at", "-id")
        .values("id", "barter_rank", LIST_TOTAL)
    )


@prepared(shape=("learn_slots", "teach_slots", "low", "high"))
def _matches_ranked(*, learn_slots, teach_slots, low, high, user_id, learn, teach):
    # learn, teach: (my keys in their slots, joined_keys of them, its separator)
    learn_keys = [learn.at(0).at(i) for i in range(learn_slots)]
    teach_keys = [teach.at(0).at(i) for i in range(teach_slots)]
    return _ranked_matches(
        user_id=user_id,
        they_teach_what_i_learn=_matches_any("teach_key", learn_keys, learn.at(1), learn.at(2)),
        they_learn_what_i_teach=(
            _matches_any("learn_key", teach_keys, teach.at(1), teach.at(2)) if teach_keys else None
        ),
    )[low:high]


@prepared(shape=("slots",))
def _posts_by_id(*, slots, ids):
    return _posts().filter(pk__in=[ids.at(i) for i in range(slots)]).order_by().values(*POST_ROW)


@prepared
def _active_topics_of(*, user_id):
    return _active_of(user_id).values("learn_key", "teach_key")


class MatchList:
    """matches/ as Django's Paginator takes a list: a slice is a page of POST_ROW rows, each with
    `is_two_way` and the list's length (LIST_TOTAL, for common.pagination's
    CountInPagePaginator). Two statements per page: the ranking of every match, narrow, then
    the page's posts by id (a post deleted between the two is left out of its page)."""

    ordered = True  # the ranking orders the list; Paginator only asks

    def __init__(self, ranked):
        self._ranked = ranked  # (low, high) -> the ranked rows of that slice

    def count(self) -> int:
        first = self._ranked(0, 1)
        return first[0][LIST_TOTAL] if first else 0

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step is not None:
            raise TypeError("matches are sliced, not indexed")
        ranked = self._ranked(item.start, item.stop)
        if not ranked:
            return []
        ids = [row["id"] for row in ranked]
        count = slots(len(ids))
        found = {row["id"]: row for row in _posts_by_id.list(slots=count, ids=padded(ids, count))}
        page = []
        for rank in ranked:
            row = found.get(rank["id"])
            if row is not None:
                row["is_two_way"] = rank["barter_rank"] == 0
                row[LIST_TOTAL] = rank[LIST_TOTAL]
                page.append(row)
        return page


def post_matches(user) -> MatchList:
    """Other users' active posts offering to teach what one of my active posts wants to learn.

    Two-way barters (they also want to learn something one of my posts offers to teach) come
    first, then newest first. One query for my topics, then per page the ranking and the page's
    posts: my (few) topics are bound into the ranking as parameters of SQL compiled once per
    number of slots (common.prepared), so each candidate post costs a few string comparisons
    instead of two correlated subqueries (25x cheaper with 100,000 posts), and building the query
    costs no Python per request (it was ~8 ms of a matches/ request).
    """
    topics = _active_topics_of.list(user_id=user.pk)
    learn = sorted({row["learn_key"] for row in topics if row["learn_key"]})
    teach = sorted({row["teach_key"] for row in topics if row["teach_key"]})
    if not learn:
        return MatchList(lambda low, high: [])
    if max(len(learn), len(teach)) > MATCH_TOPICS_INLINE_MAX:
        mine = _active_of(user.pk)
        ranked = _ranked_matches(
            user_id=user.pk,
            they_teach_what_i_learn=Exists(
                mine.exclude(learn_key="").filter(_matches(OuterRef("teach_key"), F("learn_key")))
            ),
            they_learn_what_i_teach=Exists(
                mine.exclude(teach_key="").filter(_matches(OuterRef("learn_key"), F("teach_key")))
            ),
        )
        return MatchList(lambda low, high: list(ranked[low:high]))
    learn_slots, teach_slots = slots(len(learn)), slots(len(teach))
    # My keys as the database lowered them, bound as they are: the SQL lowers nothing per post
    # (docs/learning.md "Matching").
    learn_args = (padded(learn, learn_slots), *joined_keys(learn))
    teach_args = (padded(teach, teach_slots), *joined_keys(teach))

    def ranked(low, high):
        return _matches_ranked.list(
            learn_slots=learn_slots,
            teach_slots=teach_slots,
            low=low,
            high=high,
            user_id=user.pk,
            learn=learn_args,
            teach=teach_args,
        )

    return MatchList(ranked)
