"""Daphne answers at its own limits instead of dropping the connection (SPEC sections 7 and 8).

Two limits of the libraries under daphne are enforced by cutting the TCP connection without a
word, which a client cannot tell from a network fault:

* Twisted's HTTP parser reads lines of at most 16 KiB (`LineReceiver.MAX_LENGTH`); a longer
  request line, i.e. a URL over ~16 KB, is dropped before the application sees it. Here it gets
  414 (a header line that long gets 431), with a JSON body like every other error. Shorter URLs
  reach the application, where `common.asgi_limits.URLLengthLimit` answers 414 past
  `MAX_URL_BYTES` on any server. Twisted's budget for the request line plus all headers is
  raised to twice the line limit, so a request line just under the line limit is not turned
  into a bare 400 by a few ordinary headers.
* Autobahn fails a WebSocket whose message is over daphne's 1 MiB limit by dropping the TCP
  connection (`failByDrop`); here it sends the close frame 1009 (message too big) first.

`install()` is called from linklearn/asgi.py and changes nothing unless daphne is the server
in this process (`daphne`, or `runserver` with daphne), so other ASGI servers are unaffected.
"""

import json
import sys

_installed = False


def _error_response(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def _answer_overlong_line(channel, line) -> None:
    # Still waiting for the request line (name-mangled attribute of twisted's HTTPChannel)?
    if getattr(channel, "_HTTPChannel__first_line", 1):
        response = _error_response(414, "URI Too Long", "The URL is too long.")
    else:
        response = _error_response(431, "Request Header Fields Too Large", "A request header is too long.")
    # The rest of the request is read and thrown away rather than left unread: closing a socket
    # with unread data resets the connection, and the client could lose the answer with it.
    channel.dataReceived = lambda data: None
    channel.lineReceived = lambda line: None
    channel.transport.write(response)
    if hasattr(channel.transport, "loseWriteConnection"):
        channel.transport.loseWriteConnection()
        from twisted.internet import reactor

        reactor.callLater(10, channel.transport.abortConnection)
    else:
        channel.transport.loseConnection()


def install() -> None:
    global _installed
    if _installed or "daphne.server" not in sys.modules:
        return
    from daphne.ws_protocol import WebSocketFactory
    from twisted.web.http import HTTPChannel

    HTTPChannel.lineLengthExceeded = _answer_overlong_line
    HTTPChannel.totalHeadersSize = 2 * HTTPChannel.MAX_LENGTH

    factory_init = WebSocketFactory.__init__

    def init_failing_with_a_close_frame(self, *args, **kwargs):
        factory_init(self, *args, **kwargs)
        self.setProtocolOptions(failByDrop=False)

    WebSocketFactory.__init__ = init_failing_with_a_close_frame
    _installed = True
