"""`python -m bench`: start a throwaway server, run every scenario, print and save the results."""

import argparse
import atexit
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import rest, sessions, setup, ws
from bench.context import Context
from bench.server import REPO_ROOT, BenchServer, ServerError
from bench.stats import Result, format_table

# (flag, type, environment variable, default, help) of the numeric options.
NUMERIC_OPTIONS = [
    ("--requests", int, "BENCH_REQUESTS", 200, "operations per scenario (default 200, env BENCH_REQUESTS)"),
    ("--concurrency", int, "BENCH_CONCURRENCY", 4, "concurrent clients (default 4, env BENCH_CONCURRENCY)"),
    ("--users", int, "BENCH_USERS", 10, "users signed up through the API (default 10, env BENCH_USERS)"),
    (
        "--scenario-time-limit",
        float,
        "BENCH_SCENARIO_SECONDS",
        12,
        "seconds after which a scenario stops issuing requests (default 12)",
    ),
    (
        "--time-budget",
        float,
        "BENCH_TIME_BUDGET",
        80,
        "seconds after which no new scenario starts (default 80)",
    ),
]
QUICK = {"requests": 10, "concurrency": 2, "users": 4, "scenario_time_limit": 5.0, "time_budget": 40.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    for flag, kind, variable, default, help_text in NUMERIC_OPTIONS:
        parser.add_argument(flag, type=kind, default=kind(env(variable, default)), help=help_text)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=env("BENCH_QUICK") == "1",
        help="tiny counts, for a smoke test (env BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "bench-results" / "latest.json",
        help="where to write the JSON results (default bench-results/latest.json)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, min(getattr(args, key), value))
    if min(args.requests, args.concurrency, args.users) < 1:
        parser.error("--requests, --concurrency and --users must be at least 1")
    # Sessions pair users up, so each concurrent client needs two of them.
    args.users = max(args.users, 2 * args.concurrency)
    return args


def _stop_on_signals(server: BenchServer):
    atexit.register(server.stop)

    def handler(signum, _frame):
        server.stop()
        server.cleanup_files()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def run_scenarios(ctx: Context) -> list[Result]:
    results = [setup.signup_users(ctx)]
    posts_problem = setup.create_posts(ctx) if ctx.users else None
    planned = [
        *[
            (name, lambda n=name, c=call: [rest.run_rest(ctx, n, c)])
            for name, call in rest.rest_scenarios(ctx)
        ],
        ("session lifecycle", lambda: sessions.run_lifecycle(ctx)),
        ("WS presence", lambda: ws.run_presence(ctx)),
        ("WS chat", lambda: [ws.run_chat(ctx)]),
    ]
    for name, run in planned:
        if time.monotonic() >= ctx.run_deadline:
            results.append(Result(name).skip("time budget used up"))
            continue
        print(f"  running {name} ...", file=sys.stderr, flush=True)
        results.extend(run())
    if posts_problem:
        for result in results:
            if result.name in ("GET /api/posts/", "GET /api/posts/matches/") and result.status == "ok":
                result.note = f"setup posts missing: {posts_problem}"
    return results


def _git(*args: str) -> str | None:
    try:
        # git from PATH with fixed arguments: only labels the report.
        out = subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() if out.returncode == 0 else None
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    server = BenchServer()
    _stop_on_signals(server)
    print(f"bench: starting daphne on 127.0.0.1:{server.port} (log: {server.log_path})", file=sys.stderr)
    try:
        with server:
            ctx = Context.for_server(
                server,
                requests=args.requests,
                concurrency=args.concurrency,
                users_wanted=args.users,
                scenario_time_limit=args.scenario_time_limit,
                time_budget=args.time_budget,
                run_id=secrets.token_hex(3),
            )
            print(
                f"bench: {server.database} + {server.channel_layer} channel layer; "
                f"{args.users} users, {args.requests} requests per scenario, "
                f"concurrency {args.concurrency}",
                file=sys.stderr,
            )
            results = run_scenarios(ctx)
    except ServerError as exc:
        print(f"bench: could not start the server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        server.stop()
        server.cleanup_files()
        print("bench: interrupted; server stopped", file=sys.stderr)
        return 130
    finally:
        server.stop()
    summaries = [r.summary() for r in results]
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        # Uncommitted changes in the tree also shaped the numbers.
        "git_dirty": bool(_git("status", "--porcelain")),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "server": {"database": server.database, "channel_layer": server.channel_layer, "processes": 1},
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "duration_s": round(time.monotonic() - started, 1),
        "scenarios": summaries,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(format_table(summaries))
    print(
        f"\n{len(summaries)} scenarios in {report['duration_s']}s on {os.cpu_count()} CPUs "
        f"({server.database}, {server.channel_layer}); JSON: {args.output}"
    )
    server.cleanup_files()
    return 0
