"""WebSocket scenarios: presence connect, heartbeat round-trip, chat round-trip between two users."""

import asyncio
import json
import time
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from bench.client import Api, describe, unavailable
from bench.context import Context, User
from bench.load import Tickets
from bench.sessions import end_session, open_session
from bench.stats import Result

FRAME_TIMEOUT = 10.0


class Unavailable(Exception):
    """The WebSocket route does not exist (yet)."""


def _url(ctx: Context, path: str, user: User) -> str:
    return f"ws://{ctx.host}:{ctx.port}/{path}?token={user.token}"


async def open_socket(ctx: Context, path: str, user: User) -> ClientConnection:
    try:
        return await connect(
            _url(ctx, path, user),
            origin=f"http://{ctx.host}:{ctx.port}",  # as a browser page of this site would
            open_timeout=FRAME_TIMEOUT,
            close_timeout=2,
            ping_interval=None,
            max_size=2**20,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        # The server refuses the handshake of a path no socket lives at (403; the origin we send
        # is always allowed and auth failures close after the handshake). Older servers
        # answered 500 and logged this line, so tell that from a crash too.
        if status in (403, 404) or ctx.log_contains(f"No route found for path '{path}'"):
            raise Unavailable(f"endpoint not available (HTTP {status})") from exc
        raise


async def wait_for(ws: ClientConnection, match) -> dict:
    """Reads frames until one satisfies match(frame); others (presence updates, joins) are skipped."""
    async with asyncio.timeout(FRAME_TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if isinstance(frame, dict) and match(frame):
                return frame


def of_type(kind: str):
    return lambda frame: frame.get("type") == kind


def _kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionClosed):
        return f"closed {exc.rcvd.code if exc.rcvd else 'abnormally'}"
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


async def _run_workers(count: int, total: int, time_limit: float, worker) -> tuple[float, Tickets]:
    tickets = Tickets(total, time_limit)
    started = time.perf_counter()
    await asyncio.gather(*(worker(i, tickets) for i in range(count)))
    return time.perf_counter() - started, tickets


async def _probe(result: Result, attempt) -> bool:
    """Runs one attempt unmeasured; on failure marks the result and returns False."""
    try:
        await attempt()
        return True
    except Unavailable as exc:
        result.skip(str(exc))
    except (WebSocketException, OSError, TimeoutError, ValueError) as exc:
        result.fail(f"warm-up got {_kind(exc)}")
    return False


def _finish(result: Result, elapsed: float, tickets: Tickets, total: int):
    result.elapsed = elapsed
    if tickets.truncated:
        result.note = f"time limit reached after {tickets.issued} of {total}"


async def presence_connect(ctx: Context) -> Result:
    result = Result("WS ws/presence/ connect+auth (to online_users)")

    async def attempt(user: User) -> float:
        started = time.perf_counter()
        ws = await open_socket(ctx, "ws/presence/", user)
        try:
            await wait_for(ws, of_type("online_users"))
            return time.perf_counter() - started
        finally:
            await ws.close()

    if not await _probe(result, lambda: attempt(ctx.users[0])):
        return result

    async def worker(index: int, tickets: Tickets):
        user = ctx.users[index % len(ctx.users)]
        while tickets.next() is not None:
            started = time.perf_counter()
            try:
                result.record(await attempt(user))
            except (WebSocketException, OSError, TimeoutError, ValueError) as exc:
                result.record(time.perf_counter() - started, _kind(exc))

    elapsed, tickets = await _run_workers(ctx.concurrency, ctx.requests, ctx.time_left(), worker)
    _finish(result, elapsed, tickets, ctx.requests)
    return result


async def heartbeat(ctx: Context) -> Result:
    result = Result("WS ws/presence/ heartbeat round-trip")

    async def beat(ws: ClientConnection, label: str) -> float:
        stamp = f"{datetime.now(UTC).isoformat()}#{label}"
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "heartbeat", "timestamp": stamp}))
        await wait_for(ws, lambda f: f.get("type") == "heartbeat_ack" and f.get("timestamp") == stamp)
        return time.perf_counter() - started

    async def probe():
        ws = await open_socket(ctx, "ws/presence/", ctx.users[0])
        try:
            await beat(ws, "probe")
        finally:
            await ws.close()

    if not await _probe(result, probe):
        return result

    async def worker(index: int, tickets: Tickets):
        ws = None
        try:
            ws = await open_socket(ctx, "ws/presence/", ctx.users[index % len(ctx.users)])
            while (ticket := tickets.next()) is not None:
                started = time.perf_counter()
                try:
                    result.record(await beat(ws, f"{index}-{ticket}"))
                except (WebSocketException, OSError, TimeoutError, ValueError) as exc:
                    result.record(time.perf_counter() - started, _kind(exc))
                    if isinstance(exc, ConnectionClosed):
                        break
        except (WebSocketException, OSError, TimeoutError) as exc:
            result.record(0.0, _kind(exc))
        finally:
            if ws is not None:
                await ws.close()

    elapsed, tickets = await _run_workers(ctx.concurrency, ctx.requests, ctx.time_left(), worker)
    _finish(result, elapsed, tickets, ctx.requests)
    return result


async def _drain(ws: ClientConnection):
    # The sender gets its own messages back; unread frames would back up and stall the socket.
    try:
        async for _ in ws:
            pass
    except ConnectionClosed:
        pass


async def chat_roundtrip(ctx: Context, sessions: list[tuple[int, User, User]]) -> Result:
    result = Result("WS ws/chat/{id}/ message sender->receiver")

    async def pair_up(session_id: int, sender: User, receiver: User):
        path = f"ws/chat/{session_id}/"
        tx = await open_socket(ctx, path, sender)
        try:
            rx = await open_socket(ctx, path, receiver)
        except BaseException:
            await tx.close()
            raise
        return tx, rx, asyncio.create_task(_drain(tx))

    async def send(tx: ClientConnection, rx: ClientConnection, text: str) -> float:
        started = time.perf_counter()
        await tx.send(json.dumps({"type": "chat_message", "message": text}))
        await wait_for(rx, lambda f: f.get("type") == "chat_message" and f.get("message") == text)
        return time.perf_counter() - started

    async def close(tx, rx, drain):
        await asyncio.gather(tx.close(), rx.close())
        drain.cancel()

    async def probe():
        tx, rx, drain = await pair_up(*sessions[0])
        try:
            await send(tx, rx, f"bench {ctx.run_id} probe")
        finally:
            await close(tx, rx, drain)

    if not await _probe(result, probe):
        return result

    async def worker(index: int, tickets: Tickets):
        try:
            tx, rx, drain = await pair_up(*sessions[index])
        except (WebSocketException, OSError, TimeoutError) as exc:
            result.record(0.0, _kind(exc))
            return
        try:
            while (ticket := tickets.next()) is not None:
                started = time.perf_counter()
                try:
                    result.record(await send(tx, rx, f"bench {ctx.run_id} message {index}-{ticket}"))
                except (WebSocketException, OSError, TimeoutError, ValueError) as exc:
                    result.record(time.perf_counter() - started, _kind(exc))
                    if isinstance(exc, ConnectionClosed):
                        break
        finally:
            await close(tx, rx, drain)

    elapsed, tickets = await _run_workers(len(sessions), ctx.requests, ctx.time_left(), worker)
    _finish(result, elapsed, tickets, ctx.requests)
    return result


def run_chat(ctx: Context) -> Result:
    """Opens one accepted session per pair over REST, measures chat, then ends the sessions."""
    name = "WS ws/chat/{id}/ message sender->receiver"
    pairs = ctx.pairs(ctx.concurrency)
    if not pairs:
        return Result(name).skip("needs at least 2 users")
    api = Api(ctx.host, ctx.port)
    sessions: list[tuple[int, User, User]] = []
    try:
        for creator, invitee in pairs:
            session_id, response = open_session(api, creator, invitee)
            if session_id is None:
                if unavailable(response):
                    return Result(name).skip(
                        f"needs sessions: endpoint not available (HTTP {response.status})"
                    )
                return Result(name).fail(f"could not open a session: {describe(response)}")
            sessions.append((session_id, creator, invitee))
        return asyncio.run(chat_roundtrip(ctx, sessions))
    finally:
        for session_id, creator, _ in sessions:
            end_session(api, session_id, creator)
        api.close()


def run_presence(ctx: Context) -> list[Result]:
    if not ctx.users:
        return [
            Result(name).skip("no users (signup failed or unavailable)")
            for name in (
                "WS ws/presence/ connect+auth (to online_users)",
                "WS ws/presence/ heartbeat round-trip",
            )
        ]
    return [asyncio.run(presence_connect(ctx)), asyncio.run(heartbeat(ctx))]
