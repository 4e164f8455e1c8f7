"""A double-clicked review is stored once; the second click gets 409, never a 500."""

import threading

import pytest
from django.db import connection
from django.db.models import QuerySet

from common.errors import Conflict
from reviews.models import Review
from reviews.services import review_create
from tests.factories import CompletedSessionFactory


def blind_first_check(monkeypatch):
    """The service's first existence check finds nothing, as for the loser of a race."""
    real_exists, calls = QuerySet.exists, []

    def exists(self):
        calls.append(self)
        return False if len(calls) == 1 else real_exists(self)

    monkeypatch.setattr(QuerySet, "exists", exists)


@pytest.mark.django_db
def test_review_that_slips_past_the_check_is_409(monkeypatch):
    session = CompletedSessionFactory()
    review_create(session_id=session.id, reviewer=session.user1, rating=5)
    blind_first_check(monkeypatch)
    with pytest.raises(Conflict):
        review_create(session_id=session.id, reviewer=session.user1, rating=1)
    assert list(Review.objects.values_list("rating", flat=True)) == [5]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reviews_by_one_reviewer_store_one():
    session = CompletedSessionFactory()
    barrier = threading.Barrier(4)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(review_create(session_id=session.id, reviewer=session.user1, rating=4))
        except Conflict as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Conflict) for o in outcomes) == 3
    assert Review.objects.filter(session=session).count() == 1
