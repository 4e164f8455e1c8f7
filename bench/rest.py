"""REST load: `concurrency` keep-alive connections, each a closed loop of requests, for a while.

aiohttp in one event loop costs far less CPU per request than a thread per connection, which
matters when the load generator shares two cores with the server it measures.
"""

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from bench.stats import latency_summary

# Password hashing queues behind one thread per process: 16 logins at once can take a while.
REQUEST_TIMEOUT = 60.0


@dataclass
class Request:
    method: str
    path: str
    token: str | None = None
    body: dict | None = None


@dataclass
class Endpoint:
    name: str
    # make(i) -> the i-th request: who asks, and for what (unique signups, rotating users).
    make: Callable[[int], Request]
    # check(status, data) -> None if the answer is what a client expects, else why not.
    check: Callable[[int, object], str | None] = lambda status, _data: None
    expect: tuple[int, ...] = (200,)


@dataclass
class RestResult:
    name: str
    requests: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    note: str = ""

    def summary(self) -> dict:
        ok = self.requests - sum(self.errors.values())
        return {
            "name": self.name,
            "requests": self.requests,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(5)),
            "elapsed_s": round(self.elapsed, 2),
            "rps": round(ok / self.elapsed, 1) if self.elapsed > 0 else None,
            **latency_summary(self.latencies),
            "note": self.note,
        }


def page_of(size: int):
    def check(status, data):
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != size:
            got = len(results) if isinstance(results, list) else repr(data)[:60]
            return f"expected a page of {size}, got {got}"
        return None

    return check


async def _call(session: aiohttp.ClientSession, base: str, request: Request, endpoint: Endpoint):
    headers = {"Accept": "application/json"}
    if request.token:
        headers["Authorization"] = f"Bearer {request.token}"
    started = time.perf_counter()
    try:
        async with session.request(
            request.method, base + request.path, json=request.body, headers=headers
        ) as response:
            raw = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        return time.perf_counter() - started, kind
    seconds = time.perf_counter() - started
    if status not in endpoint.expect:
        return seconds, f"HTTP {status}"
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return seconds, "not JSON"
    return seconds, endpoint.check(status, data)


async def _load(base: str, endpoint: Endpoint, concurrency: int, seconds: float, first: int) -> RestResult:
    result = RestResult(endpoint.name)
    counter = itertools.count(first)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Unmeasured: opens the keep-alive connections and catches a broken endpoint early.
        probe_seconds, problem = await _call(session, base, endpoint.make(next(counter)), endpoint)
        if problem:
            result.requests, result.errors[problem] = 1, 1
            result.latencies.append(probe_seconds)
            result.note = f"warm-up got {problem}"
            return result
        deadline = time.perf_counter() + seconds

        async def worker():
            while True:  # at least one measured request per connection
                took, problem = await _call(session, base, endpoint.make(next(counter)), endpoint)
                result.requests += 1
                result.latencies.append(took)
                if problem:
                    result.errors[problem] += 1
                if time.perf_counter() >= deadline:
                    break

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        # Until the last request in flight at the deadline answered: completed / wall time.
        result.elapsed = time.perf_counter() - started
    return result


def run_endpoint(
    host: str, port: int, endpoint: Endpoint, *, concurrency: int, seconds: float, first: int = 0
) -> RestResult:
    return asyncio.run(_load(f"http://{host}:{port}", endpoint, concurrency, seconds, first))
