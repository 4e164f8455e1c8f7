"""The session lifecycle: create, accept, timer start, timer stop, end; each step timed."""

import time

from bench.client import Api, Response, describe, unavailable
from bench.context import Context, User
from bench.load import run_threads
from bench.stats import Result

STEPS = [
    ("create", "POST /api/sessions/"),
    ("respond", "POST /api/sessions/{id}/respond/"),
    ("timer_start", "POST /api/sessions/{id}/timer/start/"),
    ("timer_stop", "POST /api/sessions/{id}/timer/stop/"),
    ("end", "POST /api/sessions/{id}/end/"),
]
LIFECYCLE = "session lifecycle (5 requests)"


def open_session(api: Api, creator: User, invitee: User) -> tuple[int | None, Response]:
    """Creates a session and has the invitee accept it. Returns (id or None, last response)."""
    response = api.call("POST", "/api/sessions/", {"user2": invitee.id}, token=creator.token)
    if not response.ok:
        return None, response
    session_id = response.data.get("id") if isinstance(response.data, dict) else None
    if session_id is None:
        return None, response
    accepted = respond(api, session_id, invitee)
    return (session_id if accepted.ok else None), accepted


def respond(api: Api, session_id: int, invitee: User, decision: str = "accept") -> Response:
    path = f"/api/sessions/{session_id}/respond/"
    return api.call("POST", path, {"decision": decision}, token=invitee.token)


def end_session(api: Api, session_id: int, user: User) -> Response:
    return api.call("POST", f"/api/sessions/{session_id}/end/", token=user.token)


def lifecycle(api: Api, creator: User, invitee: User) -> list[tuple[str, Response]]:
    """Runs the five steps, stopping at the first failure (then leaves the pair reusable)."""
    done: list[tuple[str, Response]] = []
    response = api.call("POST", "/api/sessions/", {"user2": invitee.id}, token=creator.token)
    done.append(("create", response))
    session_id = response.data.get("id") if response.ok and isinstance(response.data, dict) else None
    if session_id is None:
        return done
    base = f"/api/sessions/{session_id}"
    for step, call in [
        ("respond", lambda: respond(api, session_id, invitee)),
        ("timer_start", lambda: api.call("POST", f"{base}/timer/start/", token=creator.token)),
        ("timer_stop", lambda: api.call("POST", f"{base}/timer/stop/", token=creator.token)),
        ("end", lambda: end_session(api, session_id, creator)),
    ]:
        response = call()
        done.append((step, response))
        if not response.ok:
            # An unfinished session would block this pair (409) for every later lifecycle.
            if not end_session(api, session_id, creator).ok:
                respond(api, session_id, invitee, "reject")
            break
    return done


def run_lifecycle(ctx: Context) -> list[Result]:
    results = {step: Result(label, part_of=LIFECYCLE) for step, label in STEPS}
    total = Result(LIFECYCLE)
    everything = [total, *results.values()]
    pairs = ctx.pairs(ctx.concurrency)
    if not pairs:
        return [r.skip("needs at least 2 users") for r in everything]

    api = Api(ctx.host, ctx.port)
    probe = lifecycle(api, *pairs[0])
    api.close()
    step, last = probe[-1]
    label = dict(STEPS)[step]
    if unavailable(last):
        return [r.skip(f"endpoint not available (HTTP {last.status} on {label})") for r in everything]
    if not last.ok or len(probe) < len(STEPS):
        return [r.fail(f"warm-up {label} got {describe(last)}") for r in everything]

    def worker(index: int, tickets):
        api = Api(ctx.host, ctx.port)
        creator, invitee = pairs[index]
        while tickets.next() is not None:
            started = time.perf_counter()
            done = lifecycle(api, creator, invitee)
            for step, response in done:
                results[step].record(response.seconds, response.error)
            failed = next((r.error for _, r in done if not r.ok), None)
            total.record(time.perf_counter() - started, failed)
        api.close()

    cycles = max(1, ctx.requests // len(STEPS))
    elapsed, tickets = run_threads(cycles, len(pairs), ctx.time_left(), worker)
    for result in everything:
        result.elapsed = elapsed
        if tickets.truncated:
            result.note = f"time limit reached after {tickets.issued} of {cycles} lifecycles"
    return everything
