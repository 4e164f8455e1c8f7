"""Writes to learning posts. Each function is one transaction and raises common.errors only."""

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone

from common.errors import Conflict, Forbidden, Invalid, NotFound

from . import selectors
from .models import LearningPost

TOPIC_MAX_LENGTH = LearningPost._meta.get_field("topic_to_learn").max_length
DUPLICATE_MESSAGE = "You already have an active post for this topic."
EDITABLE_FIELDS = ("topic_to_learn", "topic_to_teach", "ok_with_just_learning", "bounty_enabled")


def posts_list_changed() -> None:
    """Every write that changes what the unfiltered posts list shows calls this, inside its
    transaction: a post created, edited, completed or deleted, a creator renamed, deactivated or
    deleted, a creator's rating changed by a review (docs/learning.md, "The posts page cache")."""
    selectors.POSTS_ACTIVE_PAGES.changed()


def _clean_topic(value, *, field: str, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(f"{field} may not be blank.", field=field)
    if len(value) > TOPIC_MAX_LENGTH:
        raise Invalid(f"{field} must be at most {TOPIC_MAX_LENGTH} characters.", field=field)
    return value


def _validate(post: LearningPost) -> None:
    post.topic_to_learn = _clean_topic(post.topic_to_learn, field="topic_to_learn", required=True)
    post.topic_to_teach = _clean_topic(post.topic_to_teach, field="topic_to_teach", required=False)
    if not post.topic_to_teach and not post.ok_with_just_learning:
        raise Invalid(
            "topic_to_teach is required unless ok_with_just_learning is true.", field="topic_to_teach"
        )


def _has_duplicate(post: LearningPost) -> bool:
    return (
        LearningPost.objects.filter(creator_id=post.creator_id, is_completed=False)
        .exclude(pk=post.pk)
        .annotate(topic_lower=Lower("topic_to_learn"))
        .filter(topic_lower=Lower(Value(post.topic_to_learn)))
        .exists()
    )


def _save_unique(post: LearningPost, **save_kwargs) -> None:
    if _has_duplicate(post):
        raise Conflict(DUPLICATE_MESSAGE)
    # Two requests can both pass the check above; the partial unique index decides. The
    # savepoint keeps the transaction usable, and by the time the loser's insert fails the
    # winner has committed, so looking again tells a duplicate from any other integrity error.
    try:
        with transaction.atomic():
            post.save(**save_kwargs)
    except IntegrityError:
        if _has_duplicate(post):
            raise Conflict(DUPLICATE_MESSAGE) from None
        raise


def _post_for_creator(*, post_id, user) -> LearningPost:
    try:
        post = LearningPost.objects.select_for_update().get(pk=post_id)
    except (LearningPost.DoesNotExist, ValueError, TypeError):
        raise NotFound("Post not found.") from None
    if post.creator_id != user.pk:
        raise Forbidden("Only the creator of this post may change it.")
    return post


@transaction.atomic
def post_create(
    *,
    creator,
    topic_to_learn: str,
    topic_to_teach: str = "",
    ok_with_just_learning: bool = False,
    bounty_enabled: bool = False,
) -> LearningPost:
    post = LearningPost(
        creator=creator,
        topic_to_learn=topic_to_learn,
        topic_to_teach=topic_to_teach,
        ok_with_just_learning=bool(ok_with_just_learning),
        bounty_enabled=bool(bounty_enabled),
    )
    _validate(post)
    _save_unique(post)
    posts_list_changed()
    return post


@transaction.atomic
def post_update(*, post_id, user, **changes) -> LearningPost:
    """Change any of EDITABLE_FIELDS; the result must satisfy the same rules as a new post."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(f"Not editable: {', '.join(sorted(unknown))}.")
    post = _post_for_creator(post_id=post_id, user=user)
    if post.is_completed:
        raise Conflict("A completed post can no longer be edited.")
    for field, value in changes.items():
        setattr(post, field, value)
    _validate(post)
    _save_unique(post, update_fields=list(EDITABLE_FIELDS))
    posts_list_changed()
    return post


@transaction.atomic
def post_delete(*, post_id, user) -> None:
    """Sessions that came from this post stay as they are; only their link to it is cleared."""
    post = _post_for_creator(post_id=post_id, user=user)
    post.delete()
    posts_list_changed()


@transaction.atomic
def post_complete(*, post_id, user) -> LearningPost:
    post = _post_for_creator(post_id=post_id, user=user)  # row lock: two completes can't both pass
    if post.is_completed:
        raise Conflict("This post is already completed.")
    post.is_completed = True
    post.completed_at = timezone.now()
    post.save(update_fields=["is_completed", "completed_at"])
    posts_list_changed()
    return post
