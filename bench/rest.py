"""REST load: `concurrency` keep-alive connections, each a closed loop of requests, for a while.

The load generator shares the machine's cores with the server it measures, so every millisecond
of client CPU per request is taken from the server (and from a second server process most of
all: on two cores, one worker plus a busy client already fill the machine). So the client is as
cheap as honest measurement allows: one event loop (uvloop when installed), one small
`asyncio.Protocol` per HTTP/1.1 keep-alive connection, requests encoded once per distinct
request (a GET for a given user is the same bytes every time), responses framed by
Content-Length or chunked encoding. It still checks every answer as a client would: the status,
that the body is JSON, and the endpoint's own check (e.g. a page of 20). Measured on this
machine against the floor view: ~0.1 ms of client CPU per request, against ~1.2 ms with aiohttp
(docs/bench.md, "The REST load generator").
"""

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.stats import latency_summary

# Password hashing queues behind the server's threads: 16 logins at once can take a while.
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

    def add(self, other: "RestResult") -> None:
        """Count `other` (a later slice of the same endpoint) as part of this result."""
        self.requests += other.requests
        self.errors.update(other.errors)
        self.latencies += other.latencies
        self.elapsed += other.elapsed
        self.note = self.note or other.note

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


# --- HTTP/1.1 on a keep-alive connection -------------------------------------------------------


class ProtocolError(Exception):
    """The server's answer could not be read as HTTP/1.1."""


def encode(request: Request, host: str) -> bytes:
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    if request.token:
        lines.append(f"Authorization: Bearer {request.token}")
    body = b""
    if request.body is not None:
        body = json.dumps(request.body).encode()
        lines.append("Content-Type: application/json")
    if body or request.method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_response(buffer: bytearray) -> tuple[int, bytes, bool] | None:
    """(status, body, keep_alive) of the first complete response in `buffer`, which loses it;
    None while it is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    if not head.startswith(b"http/1."):
        raise ProtocolError(f"not an HTTP/1.x status line: {bytes(buffer[:40])!r}")
    status = int(head[9:12])
    keep_alive = not head.startswith(b"http/1.0") and b"\r\nconnection: close" not in head
    start = end + 4
    length_at = head.find(b"\r\ncontent-length:")
    if length_at >= 0:
        line_end = head.find(b"\r\n", length_at + 2)
        length = int(head[length_at + 17 : line_end if line_end >= 0 else None])
        if len(buffer) < start + length:
            return None
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        return status, body, keep_alive
    if b"\r\ntransfer-encoding: chunked" in head:
        chunks, at = [], start
        while True:
            size_end = buffer.find(b"\r\n", at)
            if size_end < 0:
                return None
            size = int(bytes(buffer[at:size_end]).split(b";")[0], 16)
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", size_end)
                if trailer_end < 0 and buffer[size_end : size_end + 4] != b"\r\n\r\n":
                    return None
                done = (trailer_end if trailer_end >= 0 else size_end) + 4
                del buffer[:done]
                return status, b"".join(chunks), keep_alive
            if len(buffer) < size_end + 2 + size + 2:
                return None
            chunks.append(bytes(buffer[size_end + 2 : size_end + 2 + size]))
            at = size_end + 2 + size + 2
    if status in (204, 304) or 100 <= status < 200:
        del buffer[:start]
        return status, b"", keep_alive
    raise ProtocolError("a response without Content-Length or chunked encoding")


class Connection(asyncio.Protocol):
    """One keep-alive connection: `await request(raw)` sends it and returns (status, body)."""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.keep_alive = True

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, host, port)
        return connection

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            parsed = parse_response(self.buffer)
        except (ProtocolError, ValueError) as exc:
            self.waiter.set_exception(ProtocolError(str(exc)))
            return
        if parsed is not None:
            status, body, self.keep_alive = parsed
            self.waiter.set_result((status, body))

    def connection_lost(self, exc):
        self.keep_alive = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionResetError("server closed the connection"))

    @property
    def usable(self) -> bool:
        return self.keep_alive and self.transport is not None and not self.transport.is_closing()

    async def request(self, raw: bytes, timeout: float) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        self.waiter = waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            self.transport.write(raw)
            return await waiter
        finally:
            timer.cancel()

    def close(self):
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future):
    if not waiter.done():
        waiter.set_exception(TimeoutError())


# --- the load --------------------------------------------------------------------------------


class Client:
    """One measured connection slot: reconnects after a closed or broken connection."""

    def __init__(self, host: str, port: int, endpoint: Endpoint, encoded: Callable[[Request], bytes]):
        self.host, self.port, self.endpoint, self.encoded = host, port, endpoint, encoded
        self.connection: Connection | None = None

    async def call(self, request: Request) -> tuple[float, str | None]:
        raw = self.encoded(request)
        started = time.perf_counter()
        try:
            if self.connection is None or not self.connection.usable:
                if self.connection is not None:
                    self.connection.close()
                self.connection = await Connection.open(self.host, self.port)
            status, body = await self.connection.request(raw, REQUEST_TIMEOUT)
        except (TimeoutError, OSError, ProtocolError) as exc:
            if self.connection is not None:
                self.connection.close()
                self.connection = None
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return time.perf_counter() - started, kind
        seconds = time.perf_counter() - started
        if status not in self.endpoint.expect:
            return seconds, f"HTTP {status}"
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return seconds, "not JSON"
        return seconds, self.endpoint.check(status, data)

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


async def _load(host: str, port: int, endpoint: Endpoint, concurrency: int, seconds: float, first: int):
    result = RestResult(endpoint.name)
    counter = itertools.count(first)
    authority = f"{host}:{port}"
    cache: dict[tuple, bytes] = {}

    def encoded(request: Request) -> bytes:
        if request.body is not None:  # a body is new each time (signups): encoded each time
            return encode(request, authority)
        key = (request.method, request.path, request.token)
        raw = cache.get(key)
        if raw is None:
            raw = cache[key] = encode(request, authority)
        return raw

    clients = [Client(host, port, endpoint, encoded) for _ in range(concurrency)]
    try:
        # Unmeasured: opens a connection and catches a broken endpoint early.
        probe_seconds, problem = await clients[0].call(endpoint.make(next(counter)))
        if problem:
            result.requests, result.errors[problem] = 1, 1
            result.latencies.append(probe_seconds)
            result.note = f"warm-up got {problem}"
            return result
        deadline = time.perf_counter() + seconds

        async def worker(client: Client):
            while True:  # at least one measured request per connection
                took, problem = await client.call(endpoint.make(next(counter)))
                result.requests += 1
                result.latencies.append(took)
                if problem:
                    result.errors[problem] += 1
                if time.perf_counter() >= deadline:
                    break

        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for client in clients))
        # Until the last request in flight at the deadline answered: completed / wall time.
        result.elapsed = time.perf_counter() - started
    finally:
        for client in clients:
            client.close()
    return result


def _runner() -> asyncio.Runner:
    with contextlib.suppress(ImportError):
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()


def run_endpoint(
    host: str, port: int, endpoint: Endpoint, *, concurrency: int, seconds: float, first: int = 0
) -> RestResult:
    with _runner() as runner:
        return runner.run(_load(host, port, endpoint, concurrency, seconds, first))
