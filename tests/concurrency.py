"""Helpers for tests that race requests against each other."""

import threading

from django.db import connection
from django.db.models import QuerySet


def race(*calls):
    """Run each call in its own thread and connection, released together; results in order.

    A call that raises gives its exception as its result: the test decides whether that
    refusal was the expected one.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=30)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001  (reported to the test, which decides)
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung (deadlock?)"
    return results


def race_n(n, call):
    """The same call made n times at once."""
    return race(*[call] * n)


def blind_first_check(monkeypatch):
    """The service's first existence check finds nothing, as for the loser of a race.

    Returns the list of checks made, so a test can show the blinded one was really reached.
    """
    real_exists, calls = QuerySet.exists, []

    def exists(self):
        calls.append(self)
        return False if len(calls) == 1 else real_exists(self)

    monkeypatch.setattr(QuerySet, "exists", exists)
    return calls


def in_thread(call):
    """Start `call` on its own thread and connection, unsynchronised (the test steers the order);
    returns (thread, box), where `box.result` holds what `call` returned or raised."""
    box = threading.Thread()

    def run():
        try:
            box.result = call()
        except Exception as exc:  # noqa: BLE001  (the test inspects it)
            box.result = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box
