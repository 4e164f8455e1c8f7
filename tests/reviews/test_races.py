"""A double-clicked review is stored once; the second click gets 409, never a 500."""

import pytest

from common.errors import Conflict
from reviews.models import Review
from reviews.services import review_create
from tests.concurrency import blind_first_check, race_n
from tests.factories import CompletedSessionFactory


@pytest.mark.django_db
def test_review_that_slips_past_the_check_is_409(monkeypatch):
    session = CompletedSessionFactory()
    review_create(session_id=session.id, reviewer=session.user1, rating=5)
    checks = blind_first_check(monkeypatch)
    with pytest.raises(Conflict):
        review_create(session_id=session.id, reviewer=session.user1, rating=1)
    assert len(checks) >= 2  # the blinded pre-check, then the look after the refused insert
    assert list(Review.objects.values_list("rating", flat=True)) == [5]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reviews_by_one_reviewer_store_one():
    session = CompletedSessionFactory()
    outcomes = race_n(4, lambda: review_create(session_id=session.id, reviewer=session.user1, rating=4))
    assert sum(isinstance(o, Conflict) for o in outcomes) == 3
    assert Review.objects.filter(session=session).count() == 1
