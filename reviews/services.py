from django.db import IntegrityError, transaction

from common.errors import Conflict, Invalid
from learning.services import posts_list_changed
from tutoring.models import Session
from tutoring.selectors import session_for_participant

from .models import Review

COMMENT_MAX_LENGTH = 2000
ALREADY_REVIEWED = "You have already reviewed this session."


@transaction.atomic
def review_create(*, session_id, reviewer, rating, comment: str = "") -> Review:
    """`reviewer` rates the other participant of a completed session, once."""
    session = session_for_participant(session_id=session_id, user=reviewer)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise Invalid("rating must be an integer from 1 to 5.")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise Invalid(f"comment must be at most {COMMENT_MAX_LENGTH} characters.")
    if session.status != Session.Status.COMPLETED:
        raise Conflict("A session can be reviewed only after it has completed.")
    already = Review.objects.filter(session=session, reviewer=reviewer)
    if already.exists():
        raise Conflict(ALREADY_REVIEWED)
    review = Review(
        session=session,
        reviewer=reviewer,
        reviewee_id=session.other_participant_id(reviewer.pk),
        rating=rating,
        comment=comment,
    )
    # A double click can pass the check above twice; the unique constraint decides, and the
    # loser's insert fails only once the winner committed, so looking again finds its review.
    try:
        with transaction.atomic():
            review.save()
    except IntegrityError:
        if already.exists():
            raise Conflict(ALREADY_REVIEWED) from None
        raise
    posts_list_changed()  # the reviewee's rating is shown with each of their posts
    return review
