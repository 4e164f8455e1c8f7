"""The ASGI application refuses oversize bodies before Django reads them."""

import asyncio
import json

from common.asgi_limits import BodySizeLimit
from linklearn.asgi import application

LIMIT = 1024 * 1024
CHUNK = 256 * 1024


def http_scope(headers=()):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/auth/login/",
        "raw_path": b"/api/auth/login/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


class Client:
    """Feeds body chunks to the application on demand and collects what it sends."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.read = 0
        self.sent = []

    async def receive(self):
        if not self.chunks:  # body done: the client stays connected until the response
            await asyncio.Future()
        self.read += 1
        body = self.chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}

    async def send(self, message):
        self.sent.append(message)

    @property
    def status(self):
        return self.sent[0]["status"]

    def json(self):
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


async def test_a_declared_length_over_the_limit_is_413_before_reading():
    client = Client([b"x" * CHUNK] * 8)
    await application(http_scope([(b"content-length", str(2 * LIMIT).encode())]), client.receive, client.send)
    assert client.status == 413
    assert "detail" in client.json()
    assert client.read == 0


async def test_a_chunked_body_growing_past_the_limit_is_413_without_reading_the_rest():
    client = Client([b"x" * CHUNK] * 40)  # 10 MiB, no Content-Length
    await application(http_scope(), client.receive, client.send)
    assert client.status == 413
    assert "detail" in client.json()
    assert client.read == LIMIT // CHUNK + 1


async def test_a_body_within_the_limit_reaches_the_view_intact():
    body = json.dumps({"email": "a@example.com"}).encode()
    client = Client([body[:10], body[10:]])
    headers = [(b"content-length", str(len(body)).encode())]
    await application(http_scope(headers), client.receive, client.send)
    # Parsed and validated: only the missing password is reported.
    assert client.status == 400
    assert set(client.json()) == {"password"}


async def test_a_chunked_body_within_the_limit_is_handed_on_intact():
    received = []

    async def app(scope, receive, send):
        while not received or received[-1].get("more_body"):
            received.append(await receive())

    client = Client([b"a" * CHUNK, b"b" * CHUNK, b"c"])
    await BodySizeLimit(app)(http_scope(), client.receive, client.send)
    assert b"".join(m["body"] for m in received) == b"a" * CHUNK + b"b" * CHUNK + b"c"


def get_scope(path: bytes, query: bytes = b""):
    return {**http_scope(), "method": "GET", "path": path.decode(), "raw_path": path, "query_string": query}


async def test_a_url_over_the_limit_is_414_before_django(settings):
    client = Client([b""])
    query = b"q=" + b"a" * settings.MAX_URL_BYTES
    await application(get_scope(b"/api/health/", query), client.receive, client.send)
    assert client.status == 414
    assert "detail" in client.json()


async def test_a_long_path_counts_too(settings):
    client = Client([b""])
    await application(get_scope(b"/api/" + b"p" * settings.MAX_URL_BYTES), client.receive, client.send)
    assert client.status == 414


async def test_a_url_at_the_limit_is_served(settings):
    client = Client([b""])
    path = b"/api/health/"
    query = b"q=" + b"a" * (settings.MAX_URL_BYTES - len(path) - 2)
    await application(get_scope(path, query), client.receive, client.send)
    assert client.status in (200, 503)  # health answers; the URL was not refused
