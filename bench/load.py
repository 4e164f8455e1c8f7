"""Runs a fixed number of operations on a few worker threads, within a time limit."""

import threading
import time
from collections.abc import Callable


class Tickets:
    """Hands out operation numbers 0..total-1 until they run out or the deadline passes."""

    def __init__(self, total: int, time_limit: float):
        self.total = total
        self.deadline = time.monotonic() + time_limit
        self.issued = 0
        self.truncated = False
        self._lock = threading.Lock()

    def next(self) -> int | None:
        with self._lock:
            if self.issued >= self.total:
                return None
            if time.monotonic() >= self.deadline:
                self.truncated = True
                return None
            self.issued += 1
            return self.issued - 1


def run_threads(
    total: int, concurrency: int, time_limit: float, worker: Callable[[int, Tickets], None]
) -> tuple[float, Tickets]:
    """Calls worker(worker_index, tickets) on `concurrency` threads; returns (elapsed s, tickets)."""
    tickets = Tickets(total, time_limit)
    failures: list[BaseException] = []

    def guarded(index: int):
        try:
            worker(index, tickets)
        except BaseException as exc:  # surfaced after join, so one bad worker can't hang the run
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,), daemon=True) for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return elapsed, tickets
