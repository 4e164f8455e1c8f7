"""Let daphne send the standard close codes a server is meant to send.

Autobahn, under daphne, refuses any close code from the application except 1000 and 3000-4999
(`sendClose` treats every code as one an application picked). RFC 6455 section 7.4.1 defines
1009 (frame too big), 1011 (internal error), 1012 (restarting) and 1013 (try again later) for
exactly that: the server tells the client why it closes. SPEC 7/8 need 1013 when Redis is down,
so daphne's server-side close sends these codes as a plain close frame; every other code goes
through autobahn's checks as before. Other servers (uvicorn) send them without help.
"""

SERVER_CLOSE_CODES = frozenset({1009, 1011, 1012, 1013, 1014})


def allow_server_close_codes() -> None:
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # not served by daphne
        return
    if getattr(WebSocketProtocol.serverClose, "_server_codes", False):
        return
    checked_close = WebSocketProtocol.serverClose

    def server_close(self, code=None):
        if code in SERVER_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
            return
        checked_close(self, code=code)

    server_close._server_codes = True
    WebSocketProtocol.serverClose = server_close
