"""Two identical requests at the same instant take effect once; the loser gets 409, never a 500."""

import threading

import pytest
from django.db import connection
from django.db.models import QuerySet

from common.errors import Conflict
from learning import services
from learning.models import LearningPost
from tests.factories import LearningPostFactory, UserFactory


def race(n, action):
    barrier = threading.Barrier(n)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(action())
        except Conflict as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def conflicts(outcomes):
    return sum(isinstance(o, Conflict) for o in outcomes)


def blind_first_check(monkeypatch):
    """The service's first existence check finds nothing, as for the loser of a race."""
    real_exists, calls = QuerySet.exists, []

    def exists(self):
        calls.append(self)
        return False if len(calls) == 1 else real_exists(self)

    monkeypatch.setattr(QuerySet, "exists", exists)


@pytest.mark.django_db
def test_duplicate_that_slips_past_the_check_is_409(user, monkeypatch):
    # What the loser of a race sees: the pre-check found nothing, the unique index refuses.
    LearningPostFactory(creator=user, topic_to_learn="Python")
    blind_first_check(monkeypatch)
    with pytest.raises(Conflict):
        services.post_create(creator=user, topic_to_learn="PYTHON", topic_to_teach="Go")
    assert LearningPost.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_creates_make_one_post():
    user = UserFactory()
    outcomes = race(
        4, lambda: services.post_create(creator=user, topic_to_learn="Python", topic_to_teach="Go")
    )
    assert conflicts(outcomes) == 3
    assert LearningPost.objects.filter(creator=user).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_completes_complete_once():
    post = LearningPostFactory()
    outcomes = race(4, lambda: services.post_complete(post_id=post.id, user=post.creator))
    assert conflicts(outcomes) == 3
    post.refresh_from_db()
    assert post.is_completed is True
