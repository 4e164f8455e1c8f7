"""Open-loop chat load: every socket sends on a fixed schedule, whatever the replies do.

Both members of each session are connected; each socket sends `rate / sockets` messages a second.
Message k of a socket is due at t0 + phase + k / per_socket_rate; the text carries
"<tag> <socket> <k> <due time>", so the receiver computes latency from when the message was
*due*, not from when it was actually sent: a sender held up by a slow server (or a busy client)
does not hide the delay it suffered (no coordinated omission).

Each message should arrive twice: at the other member (a delivery; its latency is recorded) and
back at the sender (the broadcast of the stored message). `lost` counts deliveries still missing
after the drain, among messages the server did not refuse with an error frame.
"""

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from bench.stats import latency_summary, percentile

CONNECT_TIMEOUT = 30.0
# Handshakes queue behind the server's database work: a few at a time keeps each one well inside
# daphne's 5 s connect timeout; one that fails anyway is retried.
CONNECT_CONCURRENCY = 8
CONNECT_ATTEMPTS = 3


@dataclass
class ChatStats:
    tag: str
    sockets: int
    offered_rate: float
    seconds: float
    sent: int = 0
    send_failed: int = 0
    connect_failed: int = 0
    connect_retries: int = 0
    error_codes: Counter = field(default_factory=Counter)
    closed_codes: Counter = field(default_factory=Counter)
    delivered: set = field(default_factory=set)  # (sender socket, seq) seen by the other member
    echoed: set = field(default_factory=set)  # (sender socket, seq) seen back by the sender
    duplicates: int = 0
    missed_after: int = 0  # `missed_after` notices received (not refusals)
    latencies: list[float] = field(default_factory=list)
    send_lag: list[float] = field(default_factory=list)
    t0: float = 0.0
    last_delivery: float = 0.0
    connect_s: float = 0.0
    drained: bool = False
    drain_s: float = 0.0
    server_cpu_s: float | None = None

    def summary(self) -> dict:
        refused = sum(self.error_codes.values())
        accepted = max(0, self.sent - refused)
        window = self.last_delivery - self.t0
        lag = sorted(self.send_lag)
        frames_out = len(self.delivered) + len(self.echoed)
        cpu = self.server_cpu_s
        return {
            "sockets": self.sockets,
            "offered_rate": self.offered_rate,
            "seconds": self.seconds,
            "sent": self.sent,
            "send_failed": self.send_failed,
            "connect_failed": self.connect_failed,
            "connect_retries": self.connect_retries,
            "error_frames": refused,
            "error_codes": {str(k): v for k, v in sorted(self.error_codes.items(), key=str)},
            "closed_codes": {str(k): v for k, v in self.closed_codes.items()},
            "delivered": len(self.delivered),
            "deliveries_per_s": round(len(self.delivered) / window, 1) if window > 0 else 0.0,
            **latency_summary(self.latencies),
            "lost": max(0, accepted - len(self.delivered)),
            "not_echoed": max(0, accepted - len(self.echoed)),
            "duplicates": self.duplicates,
            "missed_after_frames": self.missed_after,
            "broadcast": len(self.delivered | self.echoed),
            "connect_s": round(self.connect_s, 2),
            "send_lag_p99_ms": round(percentile(lag, 99) * 1000, 1) if lag else None,
            "drained": self.drained,
            "drain_s": round(self.drain_s, 2),
            # Server CPU per chat frame it sent to a member (deliveries + echoes), sending and
            # draining only: the cost of the chat path, whatever else the machine is doing.
            "server_cpu_s": None if cpu is None else round(cpu, 2),
            "server_cpu_ms_per_frame": round(cpu * 1000 / frames_out, 3) if cpu and frames_out else None,
        }


async def _open(url: str, origin: str) -> ClientConnection:
    return await connect(
        url,
        origin=origin,  # as a browser page of this site would
        open_timeout=CONNECT_TIMEOUT,
        close_timeout=2,
        ping_interval=None,
        compression=None,  # spare the shared CPU; the server is measured, not zlib
        max_queue=4096,
        max_size=2**20,
    )


async def _connect_all(
    host: str, port: int, pairs: list[tuple[int, str, str]], stats: ChatStats, budget: float
):
    """The connections (None where it failed) of both members of every session, 2k and 2k+1.
    No handshake starts after `budget` seconds: a server that slow fails the scenario, not the run."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    origin = f"http://{host}:{port}"
    deadline = time.perf_counter() + budget

    async def one(index: int, session_id: int, token: str):
        async with gate:
            for attempt in range(CONNECT_ATTEMPTS):
                left = deadline - time.perf_counter()
                if left <= 0:
                    stats.closed_codes["connect budget used up"] += 1
                    break
                try:
                    url = f"ws://{host}:{port}/ws/chat/{session_id}/?token={token}"
                    return await asyncio.wait_for(_open(url, origin), timeout=max(left, 1.0))
                except (WebSocketException, OSError, TimeoutError) as exc:
                    kind = exc.response.status_code if isinstance(exc, InvalidStatus) else type(exc).__name__
                    stats.closed_codes[f"connect {kind}"] += 1
                    if attempt + 1 < CONNECT_ATTEMPTS:
                        stats.connect_retries += 1
                        await asyncio.sleep(0.5)
            stats.connect_failed += 1
            return None

    started = time.perf_counter()
    jobs = [one(2 * k + m, sid, tokens[m]) for k, (sid, *tokens) in enumerate(pairs) for m in (0, 1)]
    sockets = await asyncio.gather(*jobs)
    stats.connect_s = time.perf_counter() - started
    return sockets


async def _read(ws: ClientConnection, index: int, prefix: str, stats: ChatStats):
    try:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type") if isinstance(frame, dict) else None
            if kind == "chat_message":
                text = frame.get("message")
                if not isinstance(text, str) or not text.startswith(prefix):
                    continue
                now = time.perf_counter()
                _, sender, seq, due = text.split(" ")
                key = (int(sender), int(seq))
                seen = stats.echoed if key[0] == index else stats.delivered
                if key in seen:
                    stats.duplicates += 1
                    continue
                seen.add(key)
                if seen is stats.delivered:
                    stats.latencies.append(now - float(due))
                    stats.last_delivery = now
            elif kind == "error":
                if "missed_after" in frame:
                    # Not a refusal: the server says this socket missed deliveries (or got two
                    # processes' batches out of order). Whatever truly never came counts as lost.
                    stats.missed_after += 1
                else:
                    stats.error_codes[frame.get("code")] += 1
    except ConnectionClosed as exc:
        stats.closed_codes[exc.rcvd.code if exc.rcvd else "abnormal"] += 1


async def _send(ws: ClientConnection, index: int, prefix: str, interval: float, end: float, stats: ChatStats):
    due = stats.t0 + random.random() * interval  # spread the sockets over one interval
    seq = 0
    while due < end:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        stats.send_lag.append(time.perf_counter() - due)
        text = f"{prefix}{index} {seq} {due:.6f}"
        try:
            await ws.send(json.dumps({"type": "chat_message", "message": text}))
        except ConnectionClosed:
            stats.send_failed += 1
            return
        stats.sent += 1
        seq += 1
        due += interval


async def run_chat_async(
    host, port, pairs, *, rate, seconds, drain, tag, connect_budget=60.0, cpu_probe=None
) -> ChatStats:
    stats = ChatStats(tag=tag, sockets=2 * len(pairs), offered_rate=rate, seconds=seconds)
    prefix = f"{tag} "
    sockets = await _connect_all(host, port, pairs, stats, connect_budget)
    live = [(i, ws) for i, ws in enumerate(sockets) if ws is not None]
    # Only complete pairs send: a message whose other member never connected can't be delivered.
    senders = [(i, ws) for i, ws in live if sockets[i ^ 1] is not None]
    readers = [asyncio.create_task(_read(ws, i, prefix, stats)) for i, ws in live]
    try:
        await asyncio.sleep(0.3)  # let join notices settle before the clock starts
        interval = stats.sockets / rate  # each socket's share of the offered rate
        stats.t0 = time.perf_counter() + 0.1
        end = stats.t0 + seconds
        cpu_start = cpu_probe() if cpu_probe else None
        await asyncio.gather(*(_send(ws, i, prefix, interval, end, stats) for i, ws in senders))
        drain_started = time.perf_counter()
        while time.perf_counter() - drain_started < drain:
            accepted = stats.sent - sum(stats.error_codes.values())
            if len(stats.delivered) >= accepted and len(stats.echoed) >= accepted:
                stats.drained = True
                break
            await asyncio.sleep(0.05)
        stats.drain_s = time.perf_counter() - drain_started
        if cpu_probe:
            # The server's CPU from the first send to the end of the drain: no handshakes in it.
            stats.server_cpu_s = cpu_probe() - cpu_start
    finally:
        await asyncio.gather(*(ws.close() for _, ws in live), return_exceptions=True)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return stats


def run_chat(
    host: str,
    port: int,
    pairs: list[tuple[int, str, str]],
    *,
    rate: float,
    seconds: float,
    drain: float,
    tag: str,
    connect_budget: float = 60.0,
    cpu_probe=None,
) -> ChatStats:
    """pairs: (session id, token of member 1, token of member 2). `tag` must have no spaces.
    cpu_probe: returns the server's CPU seconds so far (read at the first send and after the drain)."""
    # uvloop (the servers' loop too): the load generator shares the cores with the server, and
    # every microsecond it spends per frame is one the server doesn't get.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(
            run_chat_async(
                host,
                port,
                pairs,
                rate=rate,
                seconds=seconds,
                drain=drain,
                tag=tag,
                connect_budget=connect_budget,
                cpu_probe=cpu_probe,
            )
        )
