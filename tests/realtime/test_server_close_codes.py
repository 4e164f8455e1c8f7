"""Under daphne, the standard server close codes reach the client (autobahn refuses them from an
application: only 1000 and 3000-4999), so 1013 "try again later" is a real close frame."""

import pytest
from daphne.ws_protocol import WebSocketProtocol

from realtime.server_close_codes import allow_server_close_codes


class Recorder:
    def __init__(self):
        self.frames = []

    def sendCloseFrame(self, code=None, reasonUtf8=None, isReply=False):  # noqa: N802 (autobahn's name)
        self.frames.append(code)

    def sendClose(self, code=None, reason=None):  # noqa: N802
        if code != 1000 and not 3000 <= code <= 4999:
            raise Exception(f"invalid close code {code}")
        self.frames.append(code)


@pytest.mark.parametrize("code", [1009, 1011, 1013, 4001, 4029, None])
def test_server_close_sends_standard_and_private_codes(code):
    allow_server_close_codes()
    allow_server_close_codes()  # idempotent: asgi.py may be imported more than once
    protocol = Recorder()
    WebSocketProtocol.serverClose(protocol, code=code)
    assert protocol.frames == [1000 if code is None else code]


def test_codes_no_server_may_send_are_still_refused():
    allow_server_close_codes()
    with pytest.raises(Exception, match="invalid close code"):
        WebSocketProtocol.serverClose(Recorder(), code=1005)
