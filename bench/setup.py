"""Users and posts the scenarios work on, created through the API like any client would."""

import secrets

from bench.client import Api, describe, unavailable
from bench.context import Context, User
from bench.load import run_threads
from bench.stats import Result

SIGNUP = "/api/auth/signup/"
TOPICS = ["python", "guitar"]


def signup_users(ctx: Context) -> Result:
    result = Result(f"POST {SIGNUP}")
    created: dict[int, User] = {}

    def signup(api: Api, index: int):
        name = f"Bench {ctx.run_id} {index}"
        # Random, so Django's similarity validator never relates it to the name or email.
        password = f"{secrets.token_urlsafe(12)}!7q"
        response = api.call(
            "POST",
            SIGNUP,
            {
                "email": f"bench-{ctx.run_id}-{index}@example.com",
                "name": name,
                "password": password,
                "password_confirm": password,
            },
        )
        return response, name

    probe_api = Api(ctx.host, ctx.port)
    response, name = signup(probe_api, 0)
    probe_api.close()
    if unavailable(response):
        return result.skip(f"endpoint not available (HTTP {response.status})")
    user = _user_from(0, name, response)
    if user is None:
        result.record(response.seconds, response.error or "bad body")
        return result.fail(f"signup did not return user.id and tokens.access: {describe(response)}")
    created[0] = user
    result.record(response.seconds)

    def worker(_index: int, tickets):
        api = Api(ctx.host, ctx.port)
        while (ticket := tickets.next()) is not None:
            index = ticket + 1
            response, name = signup(api, index)
            user = _user_from(index, name, response)
            result.record(response.seconds, None if user else (response.error or "bad body"))
            if user:
                created[index] = user
        api.close()

    elapsed, tickets = run_threads(ctx.users_wanted - 1, ctx.concurrency, ctx.time_left(), worker)
    result.elapsed = elapsed + response.seconds
    ctx.users = [created[i] for i in sorted(created)]
    for i, user in enumerate(ctx.users):
        user.index = i
    if tickets.truncated:
        result.note = f"time limit reached: {len(ctx.users)} of {ctx.users_wanted} users"
    return result


def _user_from(index: int, name: str, response) -> User | None:
    data = response.data if response.ok else None
    try:
        return User(index, int(data["user"]["id"]), name, str(data["tokens"]["access"]))
    except (TypeError, KeyError, ValueError):
        return None


def create_posts(ctx: Context, per_user: int = 3) -> str | None:
    """Gives every user one barter post (python <-> guitar, so half the users match each other)
    and a few one-way posts, so list pages are full. Returns why it couldn't, or None."""
    api = Api(ctx.host, ctx.port)
    try:
        for user in ctx.users:
            for j in range(per_user):
                learn = TOPICS[user.index % 2] if j == 0 else f"bench {ctx.run_id} topic {user.index}-{j}"
                body = {
                    "topic_to_learn": learn,
                    "topic_to_teach": TOPICS[(user.index + 1) % 2],
                    "ok_with_just_learning": j > 0,
                    "bounty_enabled": False,
                }
                response = api.call("POST", "/api/posts/", body, token=user.token)
                if not response.ok:
                    return f"POST /api/posts/ got {describe(response)}"
    finally:
        api.close()
    return None
