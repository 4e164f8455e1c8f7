"""The edges of a real server process (daphne, as `make run` starts it): a URL too long for it
gets 414 and an over-size WebSocket message a close frame, never a dropped connection."""

import asyncio
import json
import socket
import urllib.request

import pytest
import websockets

from bench.server import BenchServer

pytestmark = pytest.mark.e2e
STRONG = "plum-Tarmac-88-voyage"


@pytest.fixture(scope="module")
def server():
    with BenchServer() as running:
        yield running
    running.cleanup_files()


def _raw_get(server, target: str) -> bytes:
    """Send one request as bytes and read the whole answer until the server closes or stops."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head, "the server closed the connection without answering"
    return int(head.split(b" ", 2)[1]), json.loads(body)


@pytest.mark.parametrize(
    "length",
    [9_000, 16_300, 17_000, 100_000, 1_000_000],
    ids=["over-the-app-limit", "just-under-twisted", "just-over-twisted", "100k", "1M"],
)
def test_a_long_url_gets_414_with_a_json_body(server, length):
    status, body = _status_and_body(_raw_get(server, "/api/health/?q=" + "a" * length))
    assert status == 414
    assert "detail" in body


def test_an_ordinary_url_is_still_served(server):
    status, _ = _status_and_body(_raw_get(server, "/api/health/?q=" + "a" * 4000))
    assert status == 200


def test_a_header_line_too_long_for_the_server_gets_431(server):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /api/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert _status_and_body(answer)[0] == 431


def _access_token(server) -> str:
    body = json.dumps(
        {"email": "edge@example.org", "name": "Edge", "password": STRONG, "password_confirm": STRONG}
    )
    request = urllib.request.Request(
        f"http://{server.host}:{server.port}/api/auth/signup/",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return json.load(response)["tokens"]["access"]


def test_websocket_frames_of_1_mib_get_an_error_frame_and_larger_ones_close_1009(server):
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
            # Over 1 MiB: closed with 1009 (a close frame, not a dropped connection).
            await sock.send("x" * (1024 * 1024 + 1))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(sock.recv(), 10)
            assert closed.value.rcvd is not None, "the server dropped the socket without a close frame"
            assert closed.value.rcvd.code == 1009

    asyncio.run(scenario())
