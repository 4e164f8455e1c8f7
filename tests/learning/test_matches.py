import pytest
import time_machine

from tests.factories import LearningPostFactory, UserFactory

URL = "/api/posts/matches/"
pytestmark = pytest.mark.django_db


def offer(teach, learn="Something else", **kwargs):
    """Another user's post offering to teach `teach`."""
    return LearningPostFactory(topic_to_teach=teach, topic_to_learn=learn, **kwargs)


def results(client):
    response = client.get(URL)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(client):
    return [post["id"] for post in results(client)]


@pytest.fixture
def me(user):
    LearningPostFactory(creator=user, topic_to_learn="Python", topic_to_teach="Guitar")
    return user


def test_their_teach_containing_my_learn_matches_ignoring_case(client_for, me):
    post = offer("ADVANCED python")
    assert ids(client_for(me)) == [post.id]


def test_my_learn_containing_their_teach_matches(client_for, me):
    post = offer("pyth")
    assert ids(client_for(me)) == [post.id]


def test_unrelated_topics_do_not_match(client_for, me):
    offer("Cooking")
    assert ids(client_for(me)) == []


def test_two_way_barters_come_first_then_newest(client_for, me):
    with time_machine.travel("2026-01-01 10:00Z"):
        barter = offer("Python", learn="guitar chords")
    with time_machine.travel("2026-01-02 10:00Z"):
        older_one_way = offer("Python")
    with time_machine.travel("2026-01-03 10:00Z"):
        newer_one_way = offer("python 3")
    found = results(client_for(me))
    assert [p["id"] for p in found] == [barter.id, newer_one_way.id, older_one_way.id]
    assert [p["is_two_way"] for p in found] == [True, False, False]


def test_barter_counts_when_my_teach_contains_their_learn(client_for, me):
    offer("Python", learn="GUIT")
    assert results(client_for(me))[0]["is_two_way"] is True


def test_any_of_my_active_posts_can_match(client_for, user):
    LearningPostFactory(creator=user, topic_to_learn="Python", topic_to_teach="Guitar")
    LearningPostFactory(creator=user, topic_to_learn="Rust", topic_to_teach="Chess")
    python, rust = offer("Python"), offer("Rust", learn="Chess")
    assert ids(client_for(user)) == [rust.id, python.id]


def test_my_completed_posts_do_not_match(client_for, user):
    LearningPostFactory(creator=user, topic_to_learn="Python", is_completed=True)
    offer("Python")
    assert ids(client_for(user)) == []


def test_completed_offers_do_not_match(client_for, me):
    offer("Python", is_completed=True)
    assert ids(client_for(me)) == []


def test_my_own_posts_are_never_matches(client_for, me):
    LearningPostFactory(creator=me, topic_to_learn="Rust", topic_to_teach="Python")
    assert ids(client_for(me)) == []


def test_blank_topic_to_teach_of_an_offer_matches_nothing(client_for, me):
    offer("", ok_with_just_learning=True)
    assert ids(client_for(me)) == []


def test_my_blank_topic_to_teach_makes_no_barter(client_for, user):
    LearningPostFactory(creator=user, topic_to_learn="Python", topic_to_teach="", ok_with_just_learning=True)
    offer("Python", learn="Anything at all")
    found = results(client_for(user))
    assert len(found) == 1
    assert found[0]["is_two_way"] is False


def test_sql_wildcards_are_plain_characters(client_for, user):
    LearningPostFactory(creator=user, topic_to_learn="C_", topic_to_teach="Go")
    offer("Cx")
    offer("100%", learn="x")
    assert ids(client_for(user)) == []


def test_a_topic_spanning_two_of_mine_is_not_inside_either(client_for, user):
    # "Inside one of my topics" is tested against my topics joined by a separator: a topic made
    # of the end of one and the start of the next, with or without that separator, is in neither.
    LearningPostFactory(creator=user, topic_to_learn="ab", topic_to_teach="xy")
    LearningPostFactory(creator=user, topic_to_learn="cd", topic_to_teach="zw")
    for spanning in ("bc", "b\x1fc", "\x1f", "b\x1f", "\x1fc"):
        offer(spanning)
    offer("Python", learn="yz")  # no match at all: it teaches nothing I learn
    inside = offer("c", learn="y\x1fz")
    found = results(client_for(user))
    assert [(p["id"], p["is_two_way"]) for p in found] == [(inside.id, False)]


@pytest.mark.parametrize("separator", ["\x1f", "\x1e", "\x01"])
def test_my_topics_may_hold_any_character(client_for, user, separator):
    # Whatever characters my topics hold, the separator is one none of them has.
    LearningPostFactory(creator=user, topic_to_learn=f"a{separator}b", topic_to_teach=f"x{separator}y")
    LearningPostFactory(creator=user, topic_to_learn="\x1f\x1e\x1d", topic_to_teach="Chess")
    with time_machine.travel("2026-01-01 10:00Z"):
        one_way = offer(f"{separator}b")
    with time_machine.travel("2026-01-02 10:00Z"):
        barter = offer(f"A{separator}B and more", learn=f"{separator}Y")
    offer(f"b{separator}a")
    found = results(client_for(user))
    assert [(p["id"], p["is_two_way"]) for p in found] == [(barter.id, True), (one_way.id, False)]


def test_no_posts_of_mine_means_no_matches(client_for, user):
    offer("Python")
    assert ids(client_for(user)) == []


def test_each_match_appears_once_even_if_several_of_my_posts_match(client_for, user):
    LearningPostFactory(creator=user, topic_to_learn="Python", topic_to_teach="Go")
    LearningPostFactory(creator=user, topic_to_learn="python web", topic_to_teach="Chess")
    post = offer("Python web development")
    body = client_for(user).get(URL).json()
    assert body["count"] == 1
    assert [p["id"] for p in body["results"]] == [post.id]


@pytest.mark.parametrize("mine", [1, 3, 4, 5])
def test_any_number_of_my_topics_matches_exactly_those(client_for, user, mine):
    # The ranking's SQL has a power of two of slots per topic list; the unused ones are NULL
    # and must match nothing, neither as a match nor as a two-way barter.
    for i in range(mine):
        LearningPostFactory(creator=user, topic_to_learn=f"Lang {i}", topic_to_teach=f"Sport {i}")
    with time_machine.travel("2026-01-01 10:00Z"):
        last_one_way = offer(f"lang {mine - 1}", learn="Knitting")
    with time_machine.travel("2026-01-02 10:00Z"):
        first_barter = offer("lang 0", learn=f"SPORT {mine - 1}")
    offer("Cooking", learn="Sport 0")  # teaches nothing I want
    found = results(client_for(user))
    assert [(p["id"], p["is_two_way"]) for p in found] == [(first_barter.id, True), (last_one_way.id, False)]


def test_a_post_gone_between_the_ranking_and_the_page_is_left_out(user):
    """The page's posts are read after their ranking: a post deleted in between is missing from
    its page, like one deleted a moment after the page was read (no error, no empty object)."""
    from learning.selectors import MatchList

    kept, gone = offer("Python"), offer("Python")
    ranked = [
        {"id": gone.id, "barter_rank": 1, "page_list_total": 2},
        {"id": kept.id, "barter_rank": 0, "page_list_total": 2},
    ]
    gone.delete()
    page = MatchList(lambda low, high: ranked[low:high])[0:20]
    assert [(row["id"], row["is_two_way"], row["page_list_total"]) for row in page] == [(kept.id, True, 2)]


def test_matches_show_the_post_fields(client_for, me):
    teacher = UserFactory()
    offer("Python", creator=teacher)
    found = results(client_for(me))[0]
    assert found["creator_id"] == teacher.id
    assert found["creator_name"] == teacher.name


def test_matches_are_paginated(client_for, me):
    for _ in range(3):
        offer("Python")
    body = client_for(me).get(URL, {"page_size": 2}).json()
    assert body["count"] == 3
    assert len(body["results"]) == 2


def test_matches_need_authentication(api_client):
    assert api_client.get(URL).status_code == 401


def test_matches_is_read_only(client_for, user):
    assert client_for(user).post(URL, {}).status_code == 405


def test_many_topics_of_mine_still_match(client_for, user, settings):
    # Past MATCH_TOPICS_INLINE_MAX topics the query switches to subqueries; same answers.
    from learning.selectors import MATCH_TOPICS_INLINE_MAX

    for i in range(MATCH_TOPICS_INLINE_MAX + 1):
        LearningPostFactory(creator=user, topic_to_learn=f"topic {i}", topic_to_teach="Guitar")
    barter = offer("TOPIC 7", learn="guitar")
    one_way = offer("topic 42")
    offer("Cooking")
    found = results(client_for(user))
    assert [post["id"] for post in found] == [barter.id, one_way.id]
    assert [post["is_two_way"] for post in found] == [True, False]


def _page(client, **params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params)
    return response, len(queries)


def test_every_page_of_matches_says_the_exact_count_without_a_count_query(client_for, me):
    """The count comes with the page's rows (one query reads the matches once, not twice), and is
    exact on every page, however long the list and whoever asks."""
    LearningPostFactory.create_batch(5, topic_to_teach="Python", topic_to_learn="Chess")
    client = client_for(me)
    first, queries = _page(client, page_size=2)
    assert first.status_code == 200
    assert first.json()["count"] == 5
    assert first.json()["next"].endswith("page=2&page_size=2")
    assert queries == 4  # authentication, my topics, the ranking with its count, the page's posts
    offer("python")  # a new match: the next page's count is exact at once
    second, queries = _page(client, page=2, page_size=2)
    assert (second.json()["count"], len(second.json()["results"]), queries) == (6, 2, 4)
    last, _ = _page(client, page="last", page_size=2)
    assert (last.json()["count"], len(last.json()["results"]), last.json()["next"]) == (6, 2, None)
    assert [post["id"] for post in last.json()["results"]] == [
        post["id"] for post in _page(client, page=3, page_size=2)[0].json()["results"]
    ]


@pytest.mark.parametrize("page", ["4", "0", "-1", "two", "1.5", str(10**19)])
def test_a_page_of_matches_past_the_end_or_not_a_number_is_404(client_for, me, page):
    LearningPostFactory.create_batch(5, topic_to_teach="Python")
    response, _ = _page(client_for(me), page=page, page_size=2)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_no_matches_is_an_empty_first_page(client_for, user):
    LearningPostFactory(topic_to_teach="Python")  # I have no post: nothing to match
    response, _ = _page(client_for(user))
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
