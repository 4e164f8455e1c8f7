"""Two identical requests at the same instant take effect once; the loser gets 409, never a 500."""

import pytest

from common.errors import Conflict
from learning import services
from learning.models import LearningPost
from tests.concurrency import blind_first_check, race_n
from tests.factories import LearningPostFactory, UserFactory


def conflicts(outcomes):
    return sum(isinstance(o, Conflict) for o in outcomes)


@pytest.mark.django_db
def test_duplicate_that_slips_past_the_check_is_409(user, monkeypatch):
    # What the loser of a race sees: the pre-check found nothing, the unique index refuses.
    LearningPostFactory(creator=user, topic_to_learn="Python")
    checks = blind_first_check(monkeypatch)
    with pytest.raises(Conflict):
        services.post_create(creator=user, topic_to_learn="PYTHON", topic_to_teach="Go")
    assert len(checks) >= 2  # the blinded pre-check, then the look after the refused insert
    assert LearningPost.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_creates_make_one_post():
    user = UserFactory()
    outcomes = race_n(
        4, lambda: services.post_create(creator=user, topic_to_learn="Python", topic_to_teach="Go")
    )
    assert conflicts(outcomes) == 3
    assert LearningPost.objects.filter(creator=user).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_completes_complete_once():
    post = LearningPostFactory()
    outcomes = race_n(4, lambda: services.post_complete(post_id=post.id, user=post.creator))
    assert conflicts(outcomes) == 3
    post.refresh_from_db()
    assert post.is_completed is True
