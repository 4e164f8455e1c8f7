"""The counter store behind every rate limit: atomic, never evicting a live window, shared through
Redis, and counting per process (not failing closed) while Redis is down."""

import asyncio
import logging
import threading

from common.counters import RETRY_SECONDS, LocalCounters, SharedCounters
from tests.redis_server import redis_server  # noqa: F401 (fixture)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_local_counts_are_exact_under_threads():
    counters = LocalCounters()
    counts = []

    def take_many():
        counts.extend(counters.take("k", 60) for _ in range(500))

    threads = [threading.Thread(target=take_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == list(range(1, 4001))


def test_local_windows_end_and_are_pruned_but_are_never_evicted_while_live():
    clock = Clock()
    counters = LocalCounters(clock=clock)
    for i in range(5000):
        counters.take(f"user:{i}", 10)
    assert all(counters.take(f"user:{i}", 10) == 2 for i in range(5000))
    clock.now += 10
    assert counters.take("user:0", 10) == 1  # a new window
    assert len(counters) == 1  # the ended ones are gone


def test_give_back_never_goes_below_zero_and_forget_starts_over():
    counters = LocalCounters()
    counters.take("k", 60)
    counters.give_back("k")
    counters.give_back("k")
    assert counters.take("k", 60) == 1
    counters.forget("k")
    assert counters.take("k", 60) == 1


def test_two_processes_share_counts_through_redis(redis_server):  # noqa: F811
    a = SharedCounters(redis_server.url, LocalCounters())
    b = SharedCounters(redis_server.url, LocalCounters())
    assert [a.take("k", 60), b.take("k", 60), a.take("k", 60)] == [1, 2, 3]
    b.give_back("k")
    assert a.take("k", 60) == 3
    a.forget("k")
    assert b.take("k", 60) == 1


async def test_async_takes_are_atomic_in_redis(redis_server):  # noqa: F811
    shared = SharedCounters(redis_server.url, LocalCounters())
    counts = await asyncio.gather(*(shared.atake("k", 60) for _ in range(50)))
    assert sorted(counts) == list(range(1, 51))


async def test_leased_budgets_of_two_processes_never_admit_more_than_the_limit(redis_server):  # noqa: F811
    # Each process admits frames from its own lease of the budget, without a round trip per
    # frame; together they admit exactly the limit when both keep asking, then refuse.
    a = SharedCounters(redis_server.url, LocalCounters())
    b = SharedCounters(redis_server.url, LocalCounters())
    answers = []
    for _ in range(300):
        answers += await asyncio.gather(a.atake_within("k", 60, 250), b.atake_within("k", 60, 250))
    assert answers.count(True) == 250
    assert not await a.atake_within("k", 60, 250)
    assert await a.atake_within("other", 60, 250)  # another budget is untouched


def test_a_redis_outage_counts_per_process_then_shares_again_by_itself(redis_server, caplog):  # noqa: F811
    clock = Clock()
    a = SharedCounters(redis_server.url, LocalCounters(clock=clock), clock=clock)
    b = SharedCounters(redis_server.url, LocalCounters(clock=clock), clock=clock)
    assert a.take("k", 60) == 1
    assert a.ping()

    redis_server.kill()
    with caplog.at_level(logging.WARNING, logger="common.counters"):
        assert [a.take("k", 60), a.take("k", 60)] == [1, 2]  # this process still limits
        assert b.take("k", 60) == 1  # ... on its own
    assert not a.ping()
    assert caplog.text.count("rate limits are per process") == 2  # once per process, not per take

    redis_server.start()
    assert a.take("k", 60) == 3  # still local until the retry is due: no connection per request
    clock.now += RETRY_SECONDS
    with caplog.at_level(logging.WARNING, logger="common.counters"):
        # Redis again (it restarted empty), and both processes count in it together.
        assert [a.take("k", 60), b.take("k", 60), a.take("k", 60)] == [1, 2, 3]
    assert "limits are shared again" in caplog.text
