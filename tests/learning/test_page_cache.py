"""The unfiltered posts list's first pages come from a per-process page cache (common.page_cache)
that every write changing what they show invalidates: after any such write, the next read shows
it. Each test first reads the list (so the page is cached), writes through the API or the
service the API uses, and reads again."""

import json

import pytest
import rest_framework.renderers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

import common.page_cache
import common.pagination
from accounts import services as accounts
from common.page_cache import PageCache
from learning import selectors
from learning.serializers import PostOutputSerializer
from reviews.models import Review
from tests.factories import PASSWORD, CompletedSessionFactory, LearningPostFactory, UserFactory

pytestmark = pytest.mark.django_db

POSTS = "/api/posts/"


def page(client, **params):
    response = client.get(POSTS, params)
    assert response.status_code == 200
    return response.json()


def queries(client, **params):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(POSTS, params)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.fixture
def reader(client_for, user):
    return client_for(user)


@pytest.fixture
def creator(db):
    return UserFactory(name="Ada")


@pytest.fixture
def post(client_for, creator):
    response = client_for(creator).post(
        POSTS, {"topic_to_learn": "Go", "topic_to_teach": "Chess"}, format="json"
    )
    assert response.status_code == 201
    return response.json()


def test_a_cached_page_costs_only_authentication(reader, post):
    assert queries(reader) == 2  # authentication and the page (not full: its own count)
    assert queries(reader) == 1  # authentication
    assert queries(reader, page=1, page_size=20) == 1  # the same page, spelled out
    assert queries(reader, page_size=5) == 2  # another page size is another page


def test_a_cached_page_is_byte_for_byte_the_serializers(reader, creator):
    rated = CompletedSessionFactory(user1=creator, user2=UserFactory())
    Review.objects.create(session=rated, reviewer=rated.user2, reviewee=creator, rating=4)
    for rating in (5, 5):  # an average of 4.666…, shown as 4.67
        again = CompletedSessionFactory(user1=creator, user2=UserFactory())
        Review.objects.create(session=again, reviewer=again.user2, reviewee=creator, rating=rating)
    LearningPostFactory(creator=creator, topic_to_learn='Ünïcödé ✓ 日本語 "quoted"', topic_to_teach="")
    LearningPostFactory.create_batch(2)  # unrated creators: creator_rating null
    posts = list(selectors.posts_active()[:2])
    expected = JSONRenderer().render(
        {
            "count": 3,
            "next": "http://testserver/api/posts/?page=2&page_size=2",
            "previous": None,
            "results": PostOutputSerializer(posts, many=True).data,
        }
    )
    built = reader.get(POSTS, {"page_size": 2}).content
    assert built == expected
    assert reader.get(POSTS, {"page_size": 2}).content == expected  # from the cache
    last = reader.get(POSTS, {"page_size": 2, "page": 2}).content
    assert reader.get(POSTS, {"page_size": 2, "page": 2}).content == last
    rated_post = PostOutputSerializer(list(selectors.posts_active()[2:]), many=True).data
    assert json.loads(last)["results"] == json.loads(JSONRenderer().render(rated_post))
    assert b'"creator_rating":4.67,' in last


def test_the_links_follow_each_request(reader):
    LearningPostFactory.create_batch(3)
    first = page(reader, page_size=1, page=2)
    assert (first["count"], first["next"], first["previous"]) == (
        3,
        "http://testserver/api/posts/?page=3&page_size=1",
        "http://testserver/api/posts/?page_size=1",
    )
    again = reader.get(POSTS, {"page_size": 1, "page": 2}, HTTP_HOST="localhost").json()
    assert again["next"] == "http://localhost/api/posts/?page=3&page_size=1"
    assert again["results"] == first["results"]


def test_pages_past_the_cached_ones_and_bad_pages_behave_as_before(reader):
    LearningPostFactory.create_batch(7)
    assert queries(reader, page_size=1, page=7) == 3
    assert queries(reader, page_size=1, page=7) == 3  # not cached: past PageCache.pages
    assert reader.get(POSTS, {"page": 99}).status_code == 404
    assert reader.get(POSTS, {"page": 2}).status_code == 404  # a kept page number, past the end
    assert reader.get(POSTS, {"page": 0}).status_code == 404
    assert reader.get(POSTS, {"page": "x"}).status_code == 404
    assert page(reader, page_size=1, page="last")["results"][0]["id"] == min(
        p["id"] for p in page(reader, page_size=10)["results"]
    )


def test_a_new_post_shows_at_once_with_its_count(reader, client_for, creator, post):
    before = page(reader)
    response = client_for(creator).post(POSTS, {"topic_to_learn": "Rust", "ok_with_just_learning": True})
    assert response.status_code == 201
    after = page(reader)
    assert after["results"][0]["id"] == response.json()["id"]
    assert after["count"] == before["count"] + 1


def test_a_cached_first_page_counts_exactly(reader, client_for, creator, post, monkeypatch):
    # A reused count (common.pagination) kept with a cached page would outlive its seconds.
    monkeypatch.setattr(common.pagination, "COUNT_CACHE_MIN_ROWS", 1)
    assert page(reader)["count"] == 1
    client_for(creator).post(POSTS, {"topic_to_learn": "Rust", "ok_with_just_learning": True})
    assert page(reader)["count"] == 2


def test_an_edit_shows_at_once(reader, client_for, creator, post):
    page(reader)
    client_for(creator).patch(f"{POSTS}{post['id']}/", {"topic_to_teach": "Go boards"}, format="json")
    assert page(reader)["results"][0]["topic_to_teach"] == "Go boards"


def test_a_completed_post_leaves_at_once(reader, client_for, creator, post):
    assert page(reader)["count"] == 1
    assert client_for(creator).post(f"{POSTS}{post['id']}/complete/").status_code == 200
    assert page(reader) == {"count": 0, "next": None, "previous": None, "results": []}


def test_a_deleted_post_leaves_at_once(reader, client_for, creator, post):
    assert page(reader)["count"] == 1
    assert client_for(creator).delete(f"{POSTS}{post['id']}/").status_code == 204
    assert page(reader)["count"] == 0


def test_a_renamed_creator_shows_at_once(reader, client_for, creator, post):
    page(reader)
    assert client_for(creator).patch("/api/users/me/", {"name": "Grace"}, format="json").status_code == 200
    assert page(reader)["results"][0]["creator_name"] == "Grace"


def test_an_availability_change_keeps_the_page(reader, client_for, creator, post):
    page(reader)
    client_for(creator).patch("/api/users/me/", {"availability": "Mornings"}, format="json")
    assert queries(reader) == 1  # the page shows no availability


def test_a_deleted_creators_posts_leave_at_once(reader, client_for, creator, post):
    assert page(reader)["count"] == 1
    response = client_for(creator).delete("/api/users/me/", {"password": PASSWORD}, format="json")
    assert response.status_code in (200, 204)
    assert page(reader)["count"] == 0


def test_a_review_changes_the_creators_rating_at_once(reader, client_for, creator, post):
    learner = UserFactory()
    session = CompletedSessionFactory(user1=creator, user2=learner)
    assert page(reader)["results"][0]["creator_rating"] is None
    response = client_for(learner).post(f"/api/sessions/{session.id}/reviews/", {"rating": 3})
    assert response.status_code == 201
    assert page(reader)["results"][0]["creator_rating"] == 3.0


def test_a_refused_write_keeps_nothing_stale(reader, client_for, creator, post):
    # A duplicate is refused (409): nothing changed, and the page is still right.
    again = client_for(creator).post(POSTS, {"topic_to_learn": "go", "topic_to_teach": "x"}, format="json")
    assert again.status_code == 409
    assert [p["id"] for p in page(reader)["results"]] == [post["id"]]


def test_a_write_in_another_process_is_seen(reader, creator, post):
    page(reader)
    # Another process has its own PageCache of the same list; its write changes the shared
    # version, which this process reads before each page.
    here = selectors.POSTS_ACTIVE_PAGES
    elsewhere = PageCache(here.name, sequence=here.sequence)
    LearningPostFactory(creator=creator)  # written there, bypassing this process
    elsewhere.changed()
    assert page(reader)["count"] == 2


def test_the_version_changes_again_when_the_write_commits(django_capture_on_commit_callbacks, creator):
    version = selectors.POSTS_ACTIVE_PAGES._version  # wherever it lives (cache or sequence)
    before = version()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        from learning import services

        services.post_create(creator=creator, topic_to_learn="Go", topic_to_teach="Chess")
        inside = version()
        assert inside not in (None, before)  # changed at once, for readers of this connection
    assert len(callbacks) == 1
    assert version() not in (None, inside)  # and again once committed


def test_a_reader_that_read_the_version_before_a_write_files_its_page_under_that_version(db):
    pages = PageCache("test-race")

    def slow_build():
        # The write lands (and commits) while this reader is reading the database.
        pages._bump()
        return "built before the write"

    assert pages.get("k", slow_build) == "built before the write"
    assert pages.get("k", lambda: "built after the write") == "built after the write"


def test_writes_that_bypass_the_services_are_seen_after_max_age(reader, monkeypatch):
    LearningPostFactory()
    assert page(reader)["count"] == 1
    LearningPostFactory()  # like the admin or a shell: no posts_list_changed()
    assert page(reader)["count"] == 1  # the cached page, until it is MAX_AGE_SECONDS old
    monkeypatch.setattr(common.page_cache, "MAX_AGE_SECONDS", 0)
    assert page(reader)["count"] == 2


def cache_down(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(common.page_cache.cache, "get", down)
    monkeypatch.setattr(common.page_cache.cache, "set", down)
    monkeypatch.setattr(common.page_cache.cache, "add", down)
    monkeypatch.setattr("common.pagination.cache.get", down)


@pytest.mark.skipif("selectors.POSTS_ACTIVE_PAGES.in_database()")
def test_an_unreachable_shared_cache_means_no_caching(reader, monkeypatch):
    LearningPostFactory()
    assert page(reader)["count"] == 1
    cache_down(monkeypatch)
    LearningPostFactory()
    assert page(reader)["count"] == 2  # built from the database every time
    assert queries(reader) == 2  # authentication and the page (not full: its own count)
    accounts.user_update(user=UserFactory(), name="Someone")  # a lost version change is logged, not raised


@pytest.mark.skipif("not selectors.POSTS_ACTIVE_PAGES.in_database()")
def test_a_version_in_the_database_comes_with_the_caller_and_needs_no_cache(
    reader, client_for, creator, post, monkeypatch
):
    assert page(reader)["count"] == 1
    cache_down(monkeypatch)
    # A kept page: only authentication's statement, which read the version as well.
    with CaptureQueriesContext(connection) as captured:
        assert page(reader)["count"] == 1
    (statement,) = captured.captured_queries
    assert selectors.POSTS_ACTIVE_PAGES.sequence in statement["sql"]
    response = client_for(creator).post(POSTS, {"topic_to_learn": "Rust", "ok_with_just_learning": True})
    assert response.status_code == 201
    assert page(reader)["count"] == 2  # the write is seen at once, the cache down or not


def test_at_most_max_entries_pages_are_kept_the_least_recently_used_go(db, monkeypatch):
    monkeypatch.setattr(common.page_cache, "MAX_ENTRIES", 2)
    pages = PageCache("test-bound")
    built = []

    def build(key):
        built.append(key)
        return key

    for key in ("a", "b", "a", "c", "a", "b"):
        pages.get(key, lambda key=key: build(key))
    assert built == ["a", "b", "c", "b"]  # "a" was used last when "c" came, so "b" went


def test_filtered_lists_are_never_kept(reader):
    LearningPostFactory(topic_to_learn="Guitar")
    assert page(reader, topic="guitar")["count"] == 1
    LearningPostFactory(topic_to_learn="Guitar, again")  # past the services: no version change
    assert page(reader, topic="guitar")["count"] == 2
    # Authentication and the page, every time (a first page that is not full is its own count).
    assert queries(reader, topic="guitar") == queries(reader, topic="guitar") == 2


def test_a_kept_page_is_rendered_once_per_pair_of_links(reader, monkeypatch):
    LearningPostFactory.create_batch(3)
    rendered = []
    dumps = rest_framework.renderers.json.dumps

    def counting_dumps(data, *args, **kwargs):
        rendered.append(data.get("next"))
        return dumps(data, *args, **kwargs)

    first = reader.get(POSTS, {"page_size": 1}).content
    monkeypatch.setattr(rest_framework.renderers.json, "dumps", counting_dumps)
    assert reader.get(POSTS, {"page_size": 1}).content == first
    assert rendered == []  # the same bytes, not rendered again
    elsewhere = reader.get(POSTS, {"page_size": 1}, HTTP_HOST="localhost").json()
    assert elsewhere["next"] == "http://localhost/api/posts/?page=2&page_size=1"  # its own links
    indented = reader.get(POSTS, {"page_size": 1}, HTTP_ACCEPT="application/json; indent=2").content
    assert indented.startswith(b'{\n  "count": 3,')
    assert rendered == ["http://localhost/api/posts/?page=2&page_size=1", json.loads(first)["next"]]
    assert reader.get(POSTS, {"page_size": 1}).content == first  # still compact for the others


def test_a_kept_pages_rendering_goes_with_each_write(reader, client_for, creator, post):
    before = reader.get(POSTS).content
    assert reader.get(POSTS).content == before
    client_for(creator).patch(f"{POSTS}{post['id']}/", {"topic_to_teach": "Go boards"}, format="json")
    after = reader.get(POSTS).content
    assert json.loads(after)["results"][0]["topic_to_teach"] == "Go boards"
    assert reader.get(POSTS).content == after
