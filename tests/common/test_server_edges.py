"""The edges of real server processes (`make run`, i.e. granian, and daphne, which the README
also names): a URL too long gets 414 and an over-size WebSocket message a close frame, never a
dropped connection."""

import asyncio
import json
import secrets
import socket
import urllib.error
import urllib.request

import pytest
import websockets

from bench.server import Backend, BenchServer

pytestmark = pytest.mark.e2e
STRONG = "plum-Tarmac-88-voyage"


@pytest.fixture(scope="module")
def backend():
    with Backend() as shared:  # SQLite and the in-memory layer: the edges are the server's
        yield shared
    shared.cleanup_files()


@pytest.fixture(scope="module", params=["make:run", "daphne"])
def server(backend, request):
    with BenchServer(backend, server=request.param) as running:
        yield running


def _raw_get(server, target: str) -> bytes:
    """Send one request as bytes and read the whole answer until the server closes or stops."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _status_and_body(answer: bytes) -> tuple[int, dict]:
    """The status and JSON body; a server answering at its own limit may send no body (granian)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head, "the server closed the connection without answering"
    return int(head.split(b" ", 2)[1]), json.loads(body) if body else {}


@pytest.mark.parametrize(
    "length",
    [9_000, 16_300, 17_000, 100_000],
    ids=["over-the-app-limit", "just-under-twisted", "just-over-twisted", "100k"],
)
def test_a_long_url_gets_414_with_a_json_body(server, length):
    status, body = _status_and_body(_raw_get(server, "/api/health/?q=" + "a" * length))
    assert status == 414
    assert not body or "detail" in body


def test_a_megabyte_url_is_refused_not_dropped(server):
    # Past granian's whole HTTP/1 buffer (~408 KiB) it answers 431 by itself; daphne 414.
    status, _ = _status_and_body(_raw_get(server, "/api/health/?q=" + "a" * 1_000_000))
    assert status in (414, 431)


def test_an_ordinary_url_is_still_served(server):
    status, _ = _status_and_body(_raw_get(server, "/api/health/?q=" + "a" * 4000))
    assert status == 200


def test_a_header_line_too_long_for_the_server_gets_431(server):
    # 1 MB: past daphne's 16 KiB line limit and granian's header buffer alike.
    header = b"X-Big: " + b"b" * 1_000_000
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(
            b"GET /api/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + header + b"\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert _status_and_body(answer)[0] == 431


def _access_token(server) -> str:
    tag = secrets.token_hex(4)  # the servers share one database
    body = json.dumps(
        {
            "email": f"edge{tag}@example.org",
            "name": f"Edge {tag}",
            "password": STRONG,
            "password_confirm": STRONG,
        }
    )
    request = urllib.request.Request(
        f"http://{server.host}:{server.port}/api/auth/signup/",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return json.load(response)["tokens"]["access"]
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"signup failed: {exc.code} {exc.read()[:500]!r}") from exc


def test_websocket_messages_of_1_mib_get_an_error_frame_and_larger_ones_a_close_frame_or_error(server):
    token = _access_token(server)

    async def scenario():
        url = f"ws://{server.host}:{server.port}/ws/presence/?token={token}"
        async with websockets.connect(url, max_size=None, open_timeout=10) as sock:
            assert json.loads(await sock.recv())["type"] == "online_users"
            # Up to 1 MiB: an error frame, and the socket stays usable.
            await sock.send(json.dumps({"type": "heartbeat", "timestamp": "x" * (1024 * 1024 - 64)}))
            error = json.loads(await asyncio.wait_for(sock.recv(), 10))
            assert error["type"] == "error"
            await sock.send(json.dumps({"type": "heartbeat", "timestamp": "t"}))
            assert json.loads(await asyncio.wait_for(sock.recv(), 10)) == {
                "type": "heartbeat_ack",
                "timestamp": "t",
            }
            # Over 1 MiB (2 MiB here): SPEC 7 allows an error frame or the close code 1009, never a
            # dropped connection. daphne closes with 1009; granian hands it to the application,
            # which answers an error frame.
            await sock.send("x" * (2 * 1024 * 1024))
            try:
                answer = json.loads(await asyncio.wait_for(sock.recv(), 10))
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None, "the server dropped the socket without a close frame"
                assert closed.rcvd.code == 1009
            else:
                assert answer["type"] == "error"

    asyncio.run(scenario())
