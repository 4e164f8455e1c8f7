"""REST scenarios: a warm-up call decides whether the endpoint exists, then a bounded load."""

from collections.abc import Callable

from bench.client import Api, Response, describe, unavailable
from bench.context import Context, User
from bench.load import run_threads
from bench.stats import Result

# call(api, user, ticket) -> Response; ticket -1 is the warm-up probe.
Call = Callable[[Api, User, int], Response]


def run_rest(ctx: Context, name: str, call: Call) -> Result:
    result = Result(name)
    if not ctx.users:
        return result.skip("no users (signup failed or unavailable)")
    probe_api = Api(ctx.host, ctx.port)
    probe = call(probe_api, ctx.users[0], -1)
    probe_api.close()
    if unavailable(probe):
        return result.skip(f"endpoint not available (HTTP {probe.status})")
    if not probe.ok:
        result.record(probe.seconds, probe.error)
        return result.fail(f"warm-up call got {describe(probe)}")

    def worker(index: int, tickets):
        api = Api(ctx.host, ctx.port)
        user = ctx.users[index % len(ctx.users)]
        while (ticket := tickets.next()) is not None:
            response = call(api, user, ticket)
            result.record(response.seconds, response.error)
        api.close()

    result.elapsed, tickets = run_threads(ctx.requests, ctx.concurrency, ctx.time_left(), worker)
    if tickets.truncated:
        result.note = f"time limit reached after {tickets.issued} of {ctx.requests}"
    return result


def get(path: str) -> Call:
    return lambda api, user, _ticket: api.call("GET", path, token=user.token)


def create_post(run_id: str) -> Call:
    def call(api: Api, user: User, ticket: int) -> Response:
        # A fresh topic each time: one active post per creator and topic_to_learn (SPEC 5).
        body = {
            "topic_to_learn": f"bench {run_id} load {user.index}-{ticket}",
            "topic_to_teach": "python",
            "ok_with_just_learning": False,
            "bounty_enabled": False,
        }
        return api.call("POST", "/api/posts/", body, token=user.token)

    return call


def rest_scenarios(ctx: Context) -> list[tuple[str, Call]]:
    return [
        ("GET /api/users/me/", get("/api/users/me/")),
        ("GET /api/posts/", get("/api/posts/")),
        ("GET /api/posts/matches/", get("/api/posts/matches/")),
        ("POST /api/posts/", create_post(ctx.run_id)),
    ]
