"""The open-loop chat client's bookkeeping, against a fake chat server that misbehaves on purpose:
it refuses some messages with error frames, delivers some twice and drops some deliveries."""

import asyncio
import json
from collections import defaultdict

from websockets.asyncio.server import serve

from bench.chat import run_chat_async


class FakeChat:
    """ws/chat/{id}/: broadcasts to every socket of the session, except as told below."""

    def __init__(self, *, refuse_every=0, duplicate_every=0, drop_peer_every=0, stall=0.0):
        self.stall = stall
        self.refuse_every, self.duplicate_every, self.drop_peer_every = (
            refuse_every,
            duplicate_every,
            drop_peer_every,
        )
        self.groups = defaultdict(set)
        self.count = 0
        self.refused = self.duplicated = self.dropped = 0

    async def handler(self, ws):
        group = self.groups[ws.request.path.split("?")[0]]
        group.add(ws)
        await asyncio.sleep(self.stall)  # accepted, but reads nothing for a while
        try:
            async for raw in ws:
                frame = json.loads(raw)
                self.count += 1
                if self.refuse_every and self.count % self.refuse_every == 0:
                    self.refused += 1
                    await ws.send(json.dumps({"type": "error", "code": 429, "message": "slow down"}))
                    continue
                out = json.dumps({"type": "chat_message", "message": frame["message"], "id": self.count})
                drop_peer = self.drop_peer_every and self.count % self.drop_peer_every == 0
                self.dropped += bool(drop_peer)
                times = 2 if self.duplicate_every and self.count % self.duplicate_every == 0 else 1
                self.duplicated += times - 1
                for member in list(group):
                    if drop_peer and member is not ws:
                        continue
                    for _ in range(times):
                        await member.send(out)
        finally:
            group.discard(ws)


async def _run(fake: FakeChat, *, pairs=2, rate=80.0, seconds=0.5, drain=1.0, connect_budget=10.0, **kwargs):
    async with serve(fake.handler, "127.0.0.1", 0, **kwargs) as server:
        port = server.sockets[0].getsockname()[1]
        sessions = [(k + 1, f"a{k}", f"b{k}") for k in range(pairs)]
        return await run_chat_async(
            "127.0.0.1",
            port,
            sessions,
            rate=rate,
            seconds=seconds,
            drain=drain,
            tag="t-1",
            connect_budget=connect_budget,
        )


async def test_a_server_that_keeps_up_delivers_everything_once():
    stats = (await _run(FakeChat())).summary()

    assert stats["sent"] == 40  # 80/s for 0.5 s
    assert stats["delivered"] == 40 and stats["broadcast"] == 40
    assert (stats["lost"], stats["duplicates"], stats["error_frames"]) == (0, 0, 0)
    assert stats["drained"] is True
    assert stats["p99_ms"] is not None and stats["p99_ms"] < 500


async def test_refusals_duplicates_and_drops_are_each_counted():
    fake = FakeChat(refuse_every=5, duplicate_every=7, drop_peer_every=11)

    stats = (await _run(fake, drain=0.5)).summary()

    assert stats["error_codes"] == {"429": fake.refused}
    # Refused messages are not expected anywhere; a dropped delivery is lost, its echo still came.
    assert stats["lost"] == fake.dropped > 0
    assert stats["not_echoed"] == 0
    # A duplicated broadcast reaches both members twice.
    assert stats["duplicates"] == 2 * fake.duplicated > 0
    assert stats["drained"] is False  # it waited for the dropped deliveries, in vain


async def test_latency_counts_the_time_a_message_waited_at_a_stalled_server():
    stats = (await _run(FakeChat(stall=1.0), pairs=1, rate=40.0, seconds=0.3)).summary()

    assert stats["lost"] == 0 and stats["delivered"] == 12
    # Every message was due before the server read anything; the wait is in each one's latency,
    # measured from the due time the message text carries.
    assert stats["p50_ms"] > 300


async def test_a_server_too_slow_to_accept_fails_the_scenario_within_the_connect_budget():
    async def slow_handshake(_connection, _request):
        await asyncio.sleep(3)

    stats = (await _run(FakeChat(), connect_budget=0.5, process_request=slow_handshake)).summary()

    assert stats["connect_s"] < 2.5  # gave up instead of waiting out the 3 s handshakes
    assert stats["connect_failed"] == 4
    assert stats["sent"] == 0 and stats["lost"] == 0
