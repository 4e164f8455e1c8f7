"""Seeds the benchmark's database inside Django: `python -m bench.seed OUT.json --users N ...`.

Run by bench/cli.py as a subprocess with the server's environment, so it writes where the server
reads. Users go through `User.objects.create_user` (which opens the ledger account and pays the
signup grant through the ledger service) without a password, so no hash is computed per user;
then one UPDATE gives them all one precomputed hash of PASSWORD, so they can still log in.
Posts are bulk-inserted (they move no credits). Sessions go through the tutoring services.
"""

import argparse
import json
import os
import sys
import time

PASSWORD = "bench-Password-7q!"  # noqa: S105 (a throwaway database's users)
TOPICS = ["python", "guitar"]


def email(run_id: str, index: int) -> str:
    return f"bench-{run_id}-{index}@example.com"


def analyze_after_bulk_load() -> None:
    """Give PostgreSQL's planner statistics of the tables just filled, as autovacuum would soon
    after a bulk load in production. Without them (autovacuum off, as on this machine's server,
    or not yet run) the planner guesses: `?page=6` of the posts list sorted all 10,000 posts
    (4.6 ms) instead of walking the index (0.15 ms). SQLite keeps its own plans: Django never
    runs ANALYZE there, so neither does the benchmark."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def seed(*, users: int, posts: int, pairs: int, run_id: str) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from rest_framework_simplejwt.tokens import AccessToken

    from learning.models import LearningPost
    from tutoring.services import session_create, session_respond

    User = get_user_model()
    timings = {}
    started = time.perf_counter()
    with transaction.atomic():  # one commit instead of one per user
        created = [
            User.objects.create_user(email=email(run_id, i), name=f"Bench {run_id} {i}", password=None)
            for i in range(users)
        ]
    hashed = make_password(PASSWORD)
    User.objects.filter(pk__in=[u.pk for u in created]).update(password=hashed)
    timings["users_s"] = time.perf_counter() - started

    started = time.perf_counter()
    per_user = max(1, -(-posts // users))  # ceil
    rows = []
    for i, user in enumerate(created):
        for j in range(per_user):
            if len(rows) == posts:
                break
            if j == 0:
                # Even users learn python and teach guitar, odd ones the reverse: two-way matches.
                learn, teach = TOPICS[i % 2], TOPICS[(i + 1) % 2]
            else:
                learn, teach = f"subject {(i * 7 + j) % 97}", f"subject {(i * 3 + j) % 89}"
            rows.append(
                LearningPost(
                    creator=user, topic_to_learn=learn, topic_to_teach=teach, ok_with_just_learning=j % 2 == 1
                )
            )
    LearningPost.objects.bulk_create(rows, batch_size=1000)
    timings["posts_s"] = time.perf_counter() - started

    started = time.perf_counter()
    sessions = []
    with transaction.atomic():
        for k in range(min(pairs, users // 2)):
            creator, invitee = created[2 * k], created[2 * k + 1]
            session = session_create(creator=creator, invitee_id=invitee.pk)
            session_respond(session_id=session.pk, user=invitee, decision="accept")
            sessions.append([session.pk, 2 * k, 2 * k + 1])
    timings["sessions_s"] = time.perf_counter() - started

    started = time.perf_counter()
    analyze_after_bulk_load()
    timings["analyze_s"] = time.perf_counter() - started

    started = time.perf_counter()
    # Access tokens only (signed, not stored): the benchmark never refreshes within a run.
    accounts = [{"id": u.pk, "email": u.email, "token": str(AccessToken.for_user(u))} for u in created]
    timings["tokens_s"] = time.perf_counter() - started
    # The grants went through the ledger service: the books must balance before anything runs.
    from io import StringIO

    from django.core.management import CommandError, call_command

    out, err = StringIO(), StringIO()
    try:
        call_command("ledger_check", stdout=out, stderr=err)
        ledger = {"ok": True, "detail": out.getvalue().strip()}
    except CommandError as exc:
        ledger = {"ok": False, "detail": f"{exc} {err.getvalue()[-500:]}"}
    return {
        "ledger_check": ledger,
        "password": PASSWORD,
        "users": accounts,
        "posts": len(rows),
        "sessions": sessions,
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed")
    parser.add_argument("output")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--posts", type=int, required=True)
    parser.add_argument("--pairs", type=int, required=True)
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linklearn.settings")
    import django

    django.setup()
    data = seed(users=args.users, posts=args.posts, pairs=args.pairs, run_id=args.run_id)
    with open(args.output, "w") as out:
        json.dump(data, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
