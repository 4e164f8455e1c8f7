"""`python -m bench`: seed throwaway databases, serve them, load them, print and save the results.

Two configurations, each with its own database:
- `run`: what `make run` serves (one process, SQLite, in-memory channel layer);
- `serve`: the production shape (`make serve` when the Makefile has it, else daphne × N on one
  socket) on PostgreSQL + Redis, when DATABASE_URL (postgres) and REDIS_URL are given or with --pg.
docs/bench.md explains every number.
"""

import argparse
import atexit
import contextlib
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import chat, rest
from bench.server import (
    POSTGRES_SCHEMES,
    REPO_ROOT,
    Backend,
    BenchServer,
    ServerError,
    default_server,
    tree_cpu_seconds,
)
from bench.stats import format_table

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# A database number of its own: channel-layer group names repeat across runs (chat_<session id>).
LOCAL_REDIS = "redis://127.0.0.1:6379/15"

# (flag, type, default, quick value, help)
OPTIONS = [
    ("--users", int, 1000, 40, "users seeded (one precomputed password hash)"),
    ("--posts", int, 10000, 400, "posts seeded"),
    ("--concurrency", int, 16, 2, "REST connections"),
    ("--rest-seconds", float, 5.0, 0.6, "seconds of load per REST endpoint"),
    ("--chat-rate", float, 1000.0, 20.0, "offered chat messages per second (all sockets together)"),
    ("--chat-pairs", int, 100, 4, "sessions in the chat scenario (two sockets each)"),
    ("--chat-seconds", float, 10.0, 2.0, "seconds of sending"),
    ("--drain-seconds", float, 15.0, 8.0, "how long to wait for late deliveries after sending stops"),
    ("--connect-seconds", float, 45.0, 15.0, "no chat handshake starts after this long"),
    ("--high-rate", float, 1250.0, 30.0, "first offered rate of the high-load sweep"),
    ("--high-pairs", int, 250, 6, "sessions in the high-load sweep (two sockets each)"),
    ("--sweep-seconds", float, 8.0, 1.0, "seconds of sending per sweep step"),
    ("--sweep-steps", int, 4, 1, "at most this many rates in the sweep"),
    ("--p99-target-ms", float, 100.0, 100.0, "the sweep looks for the highest rate with p99 below this"),
    ("--time-budget", float, 420.0, 25.0, "seconds after which no optional step (sweep rates) starts"),
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    for flag, kind, default, _quick, help_text in OPTIONS:
        parser.add_argument(flag, type=kind, default=None, help=f"{help_text} (default {default})")
    parser.add_argument("--quick", action="store_true", help="tiny counts, one configuration (smoke test)")
    parser.add_argument(
        "--server",
        default=None,
        help="the production-shape server: make:TARGET, daphne, uvicorn, gunicorn, granian or a "
        "command template with {host} {port} {workers} {app} (default: make:serve if the Makefile "
        "has it, else daphne)",
    )
    parser.add_argument("--run-server", default=None, help="the one-process server (default make:run)")
    parser.add_argument(
        "--workers", default=None, help="process sweep of the serve configuration (default 1,2,4)"
    )
    parser.add_argument(
        "--serve-workers",
        type=int,
        default=os.cpu_count() or 2,
        help="workers of the serve configuration's chat scenarios (default: one per core)",
    )
    parser.add_argument(
        "--pg", action="store_true", help=f"serve configuration on local {LOCAL_POSTGRES} + {LOCAL_REDIS}"
    )
    parser.add_argument(
        "--only", choices=["run", "serve"], help="measure only this configuration (quick mode picks one)"
    )
    parser.add_argument(
        "--chat-only",
        action="store_true",
        help="only the chat scenarios (no REST, no login/signup, no process sweep): for work on chat",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="JSON",
        help="print the tables of an earlier run's JSON as Markdown (for docs/bench.md) and exit",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO_ROOT / "bench-results" / "latest.json",
        help="where to write the JSON results (default bench-results/latest.json)",
    )
    args = parser.parse_args(argv)
    for flag, _kind, default, quick, _help in OPTIONS:
        key = flag[2:].replace("-", "_")
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else default)
    if args.workers is None:
        args.workers = str(args.serve_workers) if args.quick else "1,2,4"
    try:
        args.workers = [int(w) for w in str(args.workers).split(",") if w.strip()]
    except ValueError:
        parser.error("--workers takes a comma-separated list of numbers, e.g. 1,2,4")
    if min([args.users, args.posts, args.concurrency, args.chat_pairs, args.high_pairs, *args.workers]) < 1:
        parser.error("counts must be at least 1")
    args.pairs = max(args.chat_pairs, args.high_pairs, args.concurrency)
    if args.users < 2 * args.pairs:
        parser.error(f"--users must be at least {2 * args.pairs}: every session needs two users of its own")
    return args


def services(args) -> tuple[str, str] | None:
    """(database url, redis url) of the serve configuration, or None when there is none."""
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if args.pg:
        database_url = database_url if urlsplit(database_url).scheme in POSTGRES_SCHEMES else LOCAL_POSTGRES
        redis_url = redis_url or LOCAL_REDIS
    if urlsplit(database_url).scheme in POSTGRES_SCHEMES and redis_url:
        return database_url, redis_url
    return None


class Run:
    """One `make bench`: the options, the clock, what was measured so far."""

    def __init__(self, args):
        self.args = args
        self.id = secrets.token_hex(3)
        self.started = time.monotonic()
        self.rest: list[dict] = []
        self.chat: list[dict] = []
        self.sweeps: list[dict] = []
        self.scaling: list[dict] = []  # the process sweep with its servers side by side
        self.servers: list[dict] = []
        self.checks: list[dict] = []
        self.seeds: list[dict] = []
        self.notes: list[str] = []
        self.live: list = []  # servers and backends to stop on a signal

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def out_of_time(self) -> bool:
        return self.elapsed() > self.args.time_budget

    def say(self, text: str):
        print(f"bench [{self.elapsed():5.0f}s] {text}", file=sys.stderr, flush=True)


# --- seeding and checks ----------------------------------------------------------------------


def seed(run: Run, config: str, backend: Backend) -> dict:
    args = run.args
    output = Path(tempfile.mkstemp(prefix="seed-", suffix=".json", dir=backend.tmpdir)[1])
    started = time.perf_counter()
    done = backend.manage(
        "-m",
        "bench.seed",
        str(output),
        f"--users={args.users}",
        f"--posts={args.posts}",
        f"--pairs={args.pairs}",
        f"--run-id={run.id}",
        timeout=600,
    )
    if done.returncode != 0:
        raise ServerError(f"seeding failed:\n{done.stderr[-3000:]}")
    data = json.loads(output.read_text())
    seconds = time.perf_counter() - started
    run.seeds.append(
        {
            "config": config,
            "users": len(data["users"]),
            "posts": data["posts"],
            "sessions": len(data["sessions"]),
            "seconds": round(seconds, 1),
            **data["timings"],
        }
    )
    run.say(f"{config}: seeded {len(data['users'])} users, {data['posts']} posts in {seconds:.1f}s")
    ledger = data["ledger_check"]
    detail = ledger["detail"].splitlines()[-1] if ledger["detail"] else ""
    run.checks.append(
        {"config": config, "check": "ledger_check after seeding", "ok": ledger["ok"], "detail": detail}
    )
    return data


def ledger_check(run: Run, config: str, backend: Backend, when: str):
    done = backend.manage("manage.py", "ledger_check")
    ok = done.returncode == 0
    text = (done.stdout.strip() or done.stderr.strip()).splitlines()
    detail = text[-1] if text else ""
    run.checks.append({"config": config, "check": f"ledger_check {when}", "ok": ok, "detail": detail})
    if not ok:
        run.say(f"{config}: ledger_check {when} FAILED: {done.stderr[-500:]}")


# --- REST ------------------------------------------------------------------------------------


def endpoints(run: Run, data: dict, *, with_auth: bool) -> list[rest.Endpoint]:
    users, sessions = data["users"], data["sessions"]
    in_session = [users[i] for _, a, b in sessions for i in (a, b)]

    def get(path, pool, check=None):
        return lambda i: rest.Request("GET", path, pool[i % len(pool)]["token"])

    found = [
        rest.Endpoint(
            "floor: constant 20 items", get("/api/bench/floor/", [{"token": None}]), rest.page_of(20)
        ),
        rest.Endpoint("GET /api/posts/ (page of 20)", get("/api/posts/", users), rest.page_of(20)),
        rest.Endpoint("GET /api/users/me/", get("/api/users/me/", users)),
        rest.Endpoint("GET /api/sessions/", get("/api/sessions/", in_session)),
        rest.Endpoint("GET /api/posts/matches/", get("/api/posts/matches/", users)),
    ]
    if with_auth:
        found += [
            rest.Endpoint(
                "POST /api/auth/login/",
                lambda i: rest.Request(
                    "POST",
                    "/api/auth/login/",
                    body={"email": users[i % len(users)]["email"], "password": data["password"]},
                ),
            ),
            rest.Endpoint(
                "POST /api/auth/signup/",
                lambda i: rest.Request(
                    "POST",
                    "/api/auth/signup/",
                    body={
                        "email": f"bench-{run.id}-new{i}-{secrets.token_hex(2)}@example.com",
                        "name": f"Bench {run.id} new {i} {secrets.token_hex(2)}",
                        # Random, so the similarity validator never relates it to the name or email.
                        "password": (password := f"{secrets.token_urlsafe(12)}!7q"),
                        "password_confirm": password,
                    },
                ),
                expect=(200, 201),
            ),
        ]
    return found


# An endpoint is measured in slices of this long, each after a slice of the floor half as long
# on the same server: the machine's speed drifts within a run (a shared 2-core machine: the
# floor through one server moved by a third between rows seconds apart), so an endpoint is
# compared with the floor measured around it, not with one floor row measured before it.
PAIRED_SLICE_SECONDS = 1.0


def _with_paired_floor(server: BenchServer, endpoint, floor, *, concurrency: int, seconds: float):
    """`endpoint` for `seconds` in slices, each after a half slice of `floor`: both results."""
    slices = max(1, round(seconds / PAIRED_SLICE_SECONDS))
    measured, floors = rest.RestResult(endpoint.name), rest.RestResult(floor.name)
    first = 0  # the index of the next request: every slice's signups are new people
    for _ in range(slices):
        floors.add(
            rest.run_endpoint(
                server.host, server.port, floor, concurrency=concurrency, seconds=seconds / slices / 2
            )
        )
        part = rest.run_endpoint(
            server.host, server.port, endpoint, concurrency=concurrency, seconds=seconds / slices, first=first
        )
        first += part.requests + 1  # + the slice's unmeasured first call
        measured.add(part)
    return measured, floors


def rest_phase(run: Run, config: str, server: BenchServer, data: dict, *, with_auth: bool):
    args = run.args
    floor = None
    for endpoint in endpoints(run, data, with_auth=with_auth):
        concurrency, seconds = args.concurrency, args.rest_seconds
        if args.quick and endpoint.name.startswith("POST /api/auth/"):
            concurrency, seconds = 1, 0.0  # one password hash each: the smoke test checks they work
        if endpoint.name.startswith("floor"):
            floor = endpoint
            result = rest.run_endpoint(
                server.host, server.port, endpoint, concurrency=concurrency, seconds=seconds
            )
            paired = None
        else:
            result, paired_result = _with_paired_floor(
                server, endpoint, floor, concurrency=concurrency, seconds=seconds
            )
            paired = paired_result.summary()["rps"]
        row = {"config": config, "server": server.label, "workers": server.workers, **result.summary()}
        row["floor_rps_paired"] = paired
        # Time per request relative to the floor's, measured around this endpoint (above): how
        # much the app adds to a bare request through the same server at the same moment. No
        # floor measured around it (its slices failed): no ratio.
        if floor is endpoint:
            row["x_floor"] = 1.0 if row["rps"] else None
        else:
            row["x_floor"] = round(paired / row["rps"], 2) if paired and row["rps"] else None
        run.rest.append(row)
        run.say(
            f"{config} {server.label}: {endpoint.name}: {row['rps']} req/s, p99 {row['p99_ms']} ms, "
            f"{row['errors']} errors" + (f" (floor around it: {paired} req/s)" if paired else "")
        )


def alternating(servers, measure, *, slices: int) -> dict[int, rest.RestResult]:
    """`measure(server)` on every server in turn, one slice each, `slices` rounds; the results
    per worker count. Whatever the machine does meanwhile (its speed drifts by a third within a
    run here), every server gets its share of every moment of it."""
    results: dict[int, rest.RestResult] = {}
    for _ in range(slices):
        for server in servers:
            part = measure(server)
            if server.workers in results:
                results[server.workers].add(part)
            else:
                results[server.workers] = part
    return results


def side_by_side_sweep(run: Run, backend: Backend, data: dict, name: str):
    """The process sweep again, drift-proof: a server of each worker count started at once on the
    same database, each REST read endpoint measured on them in alternating slices, so each
    ratio to one worker compares the same moments (the rows above measure the servers one after
    another, a minute apart)."""
    args = run.args
    counts = sorted(set(args.workers))
    if args.chat_only or len(counts) < 2 or 1 not in counts:
        return
    slices = max(1, round(args.rest_seconds / PAIRED_SLICE_SECONDS))
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(started_server(run, backend, name, workers, "process sweep side by side"))
            for workers in counts
        ]
        for endpoint in endpoints(run, data, with_auth=False):

            def measure(server, endpoint=endpoint):
                return rest.run_endpoint(
                    server.host,
                    server.port,
                    endpoint,
                    concurrency=args.concurrency,
                    seconds=args.rest_seconds / slices,
                )

            results = alternating(servers, measure, slices=slices)
            one = results[1].summary()
            for workers in counts[1:]:
                many = results[workers].summary()
                ratio = round(many["rps"] / one["rps"], 2) if one["rps"] and many["rps"] else None
                run.scaling.append(
                    {
                        "name": endpoint.name,
                        "workers": workers,
                        "rps": many["rps"],
                        "rps_one_worker": one["rps"],
                        "errors": many["errors"] + one["errors"],
                        "slices": slices,
                        "ratio": ratio,
                    }
                )
            run.say(
                f"serve side by side: {endpoint.name}: "
                + ", ".join(f"{w} workers {results[w].summary()['rps']} req/s" for w in counts)
            )


# --- chat ------------------------------------------------------------------------------------


def chat_pairs(data: dict, count: int) -> list[tuple[int, str, str]]:
    users = data["users"]
    return [(sid, users[a]["token"], users[b]["token"]) for sid, a, b in data["sessions"][:count]]


def chat_phase(
    run: Run, config: str, server: BenchServer, backend: Backend, data: dict, *, pairs, rate, seconds, label
) -> dict:
    tag = f"bench-{run.id}-{label}"
    stats = chat.run_chat(
        server.host,
        server.port,
        chat_pairs(data, pairs),
        rate=rate,
        seconds=seconds,
        drain=run.args.drain_seconds,
        tag=tag,
        connect_budget=run.args.connect_seconds,
        cpu_probe=lambda: _server_cpu(server),
    )
    row = {"config": config, "server": server.label, "workers": server.workers, "scenario": label}
    row.update(stats.summary())
    row.update(tag=tag, port=server.port, stored=None, stored_check="(server running)")
    notices = {"missed_after": row["missed_after_frames"]} if row["missed_after_frames"] else {}
    row["errors"] = ",".join(f"{k}:{v}" for k, v in {**row["error_codes"], **notices}.items()) or "0"
    if row["lost"] or row["error_frames"] or notices:
        # What the server said about it (its log is deleted with the run's directory).
        row["server_log_tail"] = server.log_tail(40)
    run.chat.append(row)
    run.say(
        f"{config} {server.label} chat {label}: {row['sockets']} sockets at {rate:g}/s, sent {row['sent']}: "
        f"{row['deliveries_per_s']}/s delivered, p50 {row['p50_ms']} p99 {row['p99_ms']} ms, "
        f"lost {row['lost']}, dup {row['duplicates']}, error frames {row['errors']}, "
        f"server CPU {row['server_cpu_ms_per_frame']} ms per frame out, "
        f"send lag p99 {row['send_lag_p99_ms']} ms"
    )
    return row


def _server_cpu(server: BenchServer) -> float:
    return sum(tree_cpu_seconds(process.pid) for process in server.processes)


def count_stored(run: Run, backend: Backend, port: int):
    """After the server stopped (so nothing still queued in it can land later): the messages of
    each chat row in the database. Stored before broadcast means stored == broadcast once every
    message drained; stored > broadcast counts messages stored but never seen by a member."""
    for row in run.chat:
        if row["port"] != port or row["stored"] is not None:
            continue
        try:
            row["stored"] = backend.db.scalar(
                "SELECT count(*) FROM chat_chatmessage WHERE text LIKE %s", (f"{row['tag']} %",)
            )
        except Exception as exc:
            row["stored_check"] = f"count failed: {exc}"
            continue
        row["stored_ok"] = row["stored"] == row["broadcast"]
        row["stored_check"] = "ok" if row["stored_ok"] else f"{row['stored']} != {row['broadcast']}"
        run.say(f"chat {row['scenario']}: {row['stored']} stored, {row['broadcast']} broadcast")


def passes(row: dict, target_ms: float) -> bool:
    return (
        row["p99_ms"] is not None
        and row["p99_ms"] < target_ms
        and row["lost"] == 0
        and row["error_frames"] == 0
        and row["connect_failed"] == 0
        and row["drained"]
    )


def sweep(run: Run, config: str, backend: Backend, data: dict, server_name: str, workers: int, reuse=None):
    """Offered rates from --high-rate down, each on a fresh server (so no backlog of the last
    rate lingers), until p99 < target. `reuse`: a running server for the first rate (quick mode)."""
    args = run.args
    rate, tried = args.high_rate, []
    while len(tried) < args.sweep_steps:
        if tried and run.out_of_time():
            run.notes.append(f"{config} sweep stopped after {len(tried)} rates: time budget")
            break
        starting = (
            _Reused(reuse)
            if reuse and not tried
            else started_server(run, backend, server_name, workers, f"sweep {rate:g}/s")
        )
        with starting as server:
            row = chat_phase(
                run,
                config,
                server,
                backend,
                data,
                pairs=args.high_pairs,
                rate=rate,
                seconds=args.sweep_seconds,
                label=f"sweep{int(rate)}",
            )
        row["peak_rss_mb"] = round(server.peak_rss / 2**20, 1)
        row["pass"] = passes(row, args.p99_target_ms)
        tried.append(row)
        if row["pass"]:
            break
        # Below what the server actually delivered, so the next step has a chance to keep up.
        rate = float(max(10, int(min(rate * 0.7, row["deliveries_per_s"] * 0.8) // 10 * 10)))
        if rate >= tried[-1]["offered_rate"]:
            break
    best = max((r["offered_rate"] for r in tried if r["pass"]), default=None)
    run.sweeps.append(
        {
            "config": config,
            "server": f"{server_name} x{workers}",
            "sockets": 2 * args.high_pairs,
            "target_p99_ms": args.p99_target_ms,
            "rates_tried": [r["offered_rate"] for r in tried],
            "highest_passing_rate": best,
            "first_rate_passed": bool(tried and tried[0]["pass"]),
        }
    )


class _Reused:
    def __init__(self, server):
        self.server = server

    def __enter__(self):
        return self.server

    def __exit__(self, *exc):
        pass


class started_server:
    """`with started_server(run, backend, name, workers, phase) as server:` + memory bookkeeping."""

    def __init__(self, run: Run, backend: Backend, name: str, workers: int, phase: str):
        self.run, self.phase = run, phase
        self.server = BenchServer(backend, server=name, workers=workers)
        self.backend, self.config = backend, backend.label

    def __enter__(self) -> BenchServer:
        self.run.live.append(self.server)
        self.run.say(f"starting {self.server.label} on 127.0.0.1:{self.server.port} for {self.phase}")
        self.server.__enter__()
        return self.server

    def __exit__(self, *exc):
        self.server.stop()
        self.run.live.remove(self.server)
        count_stored(self.run, self.backend, self.server.port)
        self.run.servers.append(
            {
                "config": self.config,
                "server": self.server.label,
                "workers": self.server.workers,
                "phase": self.phase,
                "port": self.server.port,
                "peak_rss_mb": round(self.server.peak_rss / 2**20, 1),
            }
        )


# --- the configurations ----------------------------------------------------------------------


def measure_run(run: Run, *, with_sweep: bool):
    """`make run`'s shape: one process, SQLite, in-memory channel layer."""
    args, config = run.args, "run"
    # Quick mode skips `make run`'s own migrate (one Django start less): daphne is its recipe.
    name = args.run_server or ("daphne" if args.quick else default_server("run"))
    with Backend() as backend:
        run.live.append(backend)
        data = seed(run, config, backend)
        with started_server(run, backend, name, 1, "REST + chat") as server:
            if not args.chat_only:
                rest_phase(run, config, server, data, with_auth=True)
            chat_phase(
                run,
                config,
                server,
                backend,
                data,
                pairs=args.chat_pairs,
                rate=args.chat_rate,
                seconds=args.chat_seconds,
                label="chat",
            )
            if with_sweep and args.quick:
                sweep(run, config, backend, data, name, 1, reuse=server)
        if with_sweep and not args.quick:
            sweep(run, config, backend, data, name, 1)
        ledger_check(run, config, backend, "at the end")
        run.live.remove(backend)


def measure_serve(run: Run, database_url: str, redis_url: str):
    """The production shape on PostgreSQL + Redis: a process sweep, chat, the high-load sweep."""
    args, config = run.args, "serve"
    name = args.server or default_server("serve")
    with Backend(database_url=database_url, redis_url=redis_url) as backend:
        run.live.append(backend)
        data = seed(run, config, backend)
        for workers in [args.serve_workers] if args.chat_only else args.workers:
            main_shape = workers == args.serve_workers
            phase = "REST + chat" if main_shape else "REST"
            with started_server(run, backend, name, workers, phase) as server:
                if not args.chat_only:
                    rest_phase(run, config, server, data, with_auth=main_shape)
                if main_shape:
                    chat_phase(
                        run,
                        config,
                        server,
                        backend,
                        data,
                        pairs=args.chat_pairs,
                        rate=args.chat_rate,
                        seconds=args.chat_seconds,
                        label="chat",
                    )
                    if args.quick:
                        sweep(run, config, backend, data, name, workers, reuse=server)
        if args.serve_workers not in args.workers:
            run.notes.append(f"--serve-workers {args.serve_workers} is not in --workers: no chat on serve")
        if not args.quick:
            sweep(run, config, backend, data, name, args.serve_workers)
            side_by_side_sweep(run, backend, data, name)
        ledger_check(run, config, backend, "at the end")
        run.live.remove(backend)


# --- output ----------------------------------------------------------------------------------

REST_COLUMNS = [
    ("endpoint", "name"),
    ("config", "config"),
    ("workers", "workers"),
    ("req/s", "rps"),
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("max ms", "max_ms"),
    ("errors", "errors"),
    ("floor around req/s", "floor_rps_paired"),
    ("x floor", "x_floor"),
]
CHAT_COLUMNS = [
    ("chat", "scenario"),
    ("config", "config"),
    ("workers", "workers"),
    ("sockets", "sockets"),
    ("offered/s", "offered_rate"),
    ("sent", "sent"),
    ("delivered/s", "deliveries_per_s"),
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("max ms", "max_ms"),
    ("lost", "lost"),
    ("dup", "duplicates"),
    ("error frames", "errors"),
    ("stored", "stored_check"),
]
SERVER_COLUMNS = [
    ("server run", "phase"),
    ("config", "config"),
    ("server", "server"),
    ("peak RSS MB", "peak_rss_mb"),
]


def scaling_lines(rows: list[dict]) -> list[str]:
    """Per endpoint of the process sweep: req/s at each worker count relative to one worker."""
    by_name: dict[str, dict[int, float]] = {}
    for row in rows:
        if row["config"] == "serve" and row["rps"]:
            by_name.setdefault(row["name"], {})[row["workers"]] = row["rps"]
    lines = []
    for name, rates in by_name.items():
        if len(rates) > 1 and 1 in rates:
            ratios = ", ".join(f"{w} workers {rates[w] / rates[1]:.2f}x" for w in sorted(rates) if w != 1)
            lines.append(f"process sweep, one server after another, {name}: {ratios} the req/s of 1 worker")
    return ["\n".join(lines)] if lines else []


def side_by_side_lines(rows: list[dict]) -> list[str]:
    """The side-by-side sweep's ratios, per endpoint."""
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        by_name.setdefault(row["name"], []).append(row)
    lines = []
    for name, found in by_name.items():
        ratios = ", ".join(
            f"{row['workers']} workers "
            + (f"{row['ratio']:.2f}x" if row["ratio"] else "-")
            + (f" ({row['errors']} errors)" if row["errors"] else "")
            for row in found
        )
        lines.append(
            f"process sweep side by side, {found[0]['slices']} alternating slices, {name}: {ratios} "
            f"the req/s of 1 worker"
        )
    return ["\n".join(lines)] if lines else []


def tables(run: Run, markdown: bool = False) -> str:
    parts = [
        format_table(run.rest, REST_COLUMNS, markdown),
        format_table(run.chat, CHAT_COLUMNS, markdown),
        format_table(run.servers, SERVER_COLUMNS, markdown),
    ]
    parts += scaling_lines(run.rest)
    parts += side_by_side_lines(run.scaling)
    for s in run.sweeps:
        best = s["highest_passing_rate"]
        verdict = (
            f"≥ {best:g} msgs/s (the first rate tried passed)"
            if s["first_rate_passed"]
            else (f"{best:g} msgs/s" if best else "none of the rates tried")
        )
        parts.append(
            f"{s['config']} ({s['server']}, {s['sockets']} sockets): highest offered rate with p99 < "
            f"{s['target_p99_ms']:g} ms, nothing lost, no error frame: {verdict}; tried "
            f"{', '.join(f'{r:g}' for r in s['rates_tried'])}"
        )
    for c in run.checks:
        parts.append(f"{c['config']}: {c['check']}: {'ok' if c['ok'] else 'FAILED'} ({c['detail']})")
    parts += run.notes
    return "\n\n".join(parts)


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


def _stop_everything(run: Run):
    for thing in reversed(run.live):
        if isinstance(thing, BenchServer):
            thing.stop()
        else:
            thing.drop()
            thing.cleanup_files()
    run.live.clear()


def markdown(path: Path) -> str:
    report = json.loads(path.read_text())
    run = Run(argparse.Namespace(time_budget=0))
    for key in ("rest", "chat", "sweeps", "scaling", "servers", "checks", "notes"):
        setattr(run, key, report.get(key, []))
    machine = report["machine"]
    head = (
        f"{report['date']}, commit {report['git_commit']}{' (dirty)' if report['git_dirty'] else ''}, "
        f"{machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}, "
        f"{report['duration_s']} s, load average at the end {machine['loadavg_at_end'][0]:.1f}"
    )
    return head + "\n\n" + tables(run, markdown=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    run = Run(args)
    atexit.register(_stop_everything, run)

    def on_signal(signum, _frame):
        _stop_everything(run)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    serve = services(args)
    only = args.only or (("serve" if serve else "run") if args.quick else None)
    if only == "serve" and not serve:
        print("bench: --only serve needs DATABASE_URL (postgres) and REDIS_URL, or --pg", file=sys.stderr)
        return 2
    try:
        if only in (None, "run"):
            measure_run(run, with_sweep=not serve or only == "run")
        if serve and only in (None, "serve"):
            measure_serve(run, *serve)
        elif not serve:
            run.notes.append("serve configuration skipped: no DATABASE_URL (postgres) + REDIS_URL, no --pg")
    except ServerError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        _stop_everything(run)
        return 2
    except KeyboardInterrupt:
        _stop_everything(run)
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),  # uncommitted changes shaped the numbers too
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_at_end": list(os.getloadavg()),
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "duration_s": round(run.elapsed(), 1),
        "seeds": run.seeds,
        "rest": run.rest,
        "chat": run.chat,
        "sweeps": run.sweeps,
        "scaling": run.scaling,
        "servers": run.servers,
        "checks": run.checks,
        "notes": run.notes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(tables(run))
    print(f"\nfinished in {report['duration_s']}s on {os.cpu_count()} CPUs; JSON: {args.output}")
    return 0
