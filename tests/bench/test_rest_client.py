"""The benchmark's REST client reads HTTP/1.1 answers the way a client must (Content-Length,
chunked, the server closing), and counts a bad answer as an error, never as a success."""

import asyncio

import pytest

from bench import rest


def test_reads_a_response_framed_by_content_length_and_keeps_the_rest():
    buffer = bytearray(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1"
    )
    assert rest.parse_response(buffer) == (200, b"{}", True)
    assert buffer == bytearray(b"HTTP/1.1")  # the start of the next answer stays


def test_waits_for_the_whole_body():
    buffer = bytearray(b'HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\n{"a"')
    assert rest.parse_response(buffer) is None
    buffer += b"}"
    assert rest.parse_response(buffer) == (201, b'{"a"}', True)


def test_reads_chunked_bodies_and_connection_close():
    buffer = bytearray(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n"
    )
    assert rest.parse_response(buffer) is None
    buffer += b"0\r\n\r\n"
    assert rest.parse_response(buffer) == (200, b"[1,2]", False)
    assert buffer == bytearray()


def test_encodes_auth_and_json_bodies():
    raw = rest.encode(rest.Request("POST", "/api/auth/login/", token="t0k", body={"a": 1}), "127.0.0.1:1")
    head, body = raw.split(b"\r\n\r\n")
    assert head.startswith(b"POST /api/auth/login/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n")
    assert b"Authorization: Bearer t0k" in head and b"Content-Length: 8" in head
    assert body == b'{"a": 1}'


@pytest.fixture
def fake_server():
    """A server answering each request with the next canned response, then closing."""
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnot",
    ]

    async def handle(reader, writer):
        while answers:
            if not await reader.readuntil(b"\r\n\r\n"):
                break
            writer.write(answers.pop(0))
            await writer.drain()
        writer.close()

    return handle


def test_counts_statuses_and_bodies_that_are_not_what_a_client_expects(fake_server):
    async def scenario():
        server = await asyncio.start_server(fake_server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        endpoint = rest.Endpoint("x", lambda i: rest.Request("GET", "/x/"))
        client = rest.Client("127.0.0.1", port, endpoint, lambda r: rest.encode(r, "h"))
        outcomes = [(await client.call(endpoint.make(i)))[1] for i in range(4)]
        client.close()
        server.close()
        await server.wait_closed()
        return outcomes

    assert asyncio.run(scenario()) == [None, "HTTP 500", "not JSON", "ConnectionResetError"]
