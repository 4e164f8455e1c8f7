"""Page counts of long lists are reused for a few seconds; short lists are always exact, and a
first page that is not full is counted by its own length."""

import factory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import common.pagination
from tests.factories import LearningPostFactory

pytestmark = pytest.mark.django_db


def _list(client, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/posts/", params)
    assert response.status_code == 200
    return response.json(), len(queries)


# The unfiltered list's first pages come from its page cache (tests/learning/test_page_cache.py),
# which counts exactly; filtered lists and later pages count as below.
def test_a_long_lists_count_is_reused_and_its_page_is_fresh(client_for, user, other_user, monkeypatch):
    monkeypatch.setattr(common.pagination, "COUNT_CACHE_MIN_ROWS", 3)
    LearningPostFactory.create_batch(3, topic_to_learn=factory.Sequence(lambda n: f"Guitar {n}"))
    client = client_for(user)
    first, counted = _list(client, topic="guitar", page_size=2)  # a full first page: counted
    newest = LearningPostFactory(topic_to_learn="Guitar, new")
    second, reused = _list(client, topic="guitar", page=1, page_size=2)
    assert first["count"] == second["count"] == 3  # at most COUNT_CACHE_SECONDS old
    assert second["results"][0]["id"] == newest.id  # the page itself is read fresh
    assert reused == counted - 1  # no count query
    # The public list is the same for everyone: another user gets the same (kept) count.
    assert _list(client_for(other_user), topic="guitar", page_size=2)[0]["count"] == 3
    # Another filter counts for itself.
    assert _list(client, topic=newest.topic_to_learn)[0]["count"] == 1
    # A first page that is not full is the whole list: exact at once, the kept count unused.
    assert _list(client, topic="guitar", page_size=10)[0]["count"] == 4


def test_a_first_page_that_is_not_full_is_its_own_count(client_for, user, monkeypatch):
    def unused(*args, **kwargs):
        raise AssertionError("the cache was asked")

    monkeypatch.setattr(common.pagination.cache, "get", unused)
    client = client_for(user)
    # (A filtered list: the unfiltered one's first pages come from its page cache.)
    assert _list(client, topic="guitar") == ({"count": 0, "next": None, "previous": None, "results": []}, 2)
    LearningPostFactory.create_batch(3, topic_to_learn=factory.Sequence(lambda n: f"Guitar {n}"))
    body, queries = _list(client, topic="guitar", page_size=4)
    assert (body["count"], len(body["results"]), body["next"]) == (3, 3, None)
    assert queries == 2  # authentication and the page: no count query
    monkeypatch.undo()  # a full first page is counted, through the count cache
    body, _ = _list(client, topic="guitar", page="1", page_size=3)  # exactly full: no next page
    assert (body["count"], len(body["results"]), body["next"]) == (3, 3, None)


def test_a_full_first_page_is_counted_and_links_to_the_next(client_for, user):
    LearningPostFactory.create_batch(5)
    body, queries = _list(client_for(user), page_size=2)
    assert (body["count"], len(body["results"])) == (5, 2)
    assert body["next"].endswith("page=2&page_size=2")
    assert queries == 3  # authentication, the page, the count
    assert client_for(user).get("/api/posts/", {"page": 4, "page_size": 2}).status_code == 404


def test_a_per_user_lists_count_is_kept_per_user(client_for, user, other_user, monkeypatch):
    monkeypatch.setattr(common.pagination, "COUNT_CACHE_MIN_ROWS", 3)
    LearningPostFactory.create_batch(3, creator=user)
    LearningPostFactory.create_batch(4, creator=other_user)
    mine = client_for(user).get("/api/posts/my_posts/").json()
    theirs = client_for(other_user).get("/api/posts/my_posts/").json()
    assert (mine["count"], theirs["count"]) == (3, 4)


def test_a_short_lists_count_is_always_exact(client_for, user):
    client = client_for(user)
    LearningPostFactory.create_batch(2, topic_to_learn=factory.Sequence(lambda n: f"Guitar {n}"))
    assert _list(client, topic="guitar")[0]["count"] == 2
    LearningPostFactory(topic_to_learn="Guitar, new")
    assert _list(client, topic="guitar")[0]["count"] == 3


def test_an_unreachable_cache_falls_back_to_counting(client_for, user, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(common.pagination.cache, "get", down)
    LearningPostFactory.create_batch(2)
    assert _list(client_for(user), page_size=1)[0]["count"] == 2
