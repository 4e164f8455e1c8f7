"""`make bench` can't rot: a tiny run against a real server, plus the "endpoint missing" path.

Runs on whatever DATABASE_URL / REDIS_URL the suite runs on, so the PostgreSQL pass of CI also
checks that the benchmark creates and drops its own database.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench import cli, rest, setup, ws
from bench.context import Context
from bench.server import REPO_ROOT, BenchServer

pytestmark = pytest.mark.e2e

SCENARIOS = {
    "POST /api/auth/signup/",
    "GET /api/users/me/",
    "GET /api/posts/",
    "GET /api/posts/matches/",
    "POST /api/posts/",
    "session lifecycle (5 requests)",
    "POST /api/sessions/",
    "POST /api/sessions/{id}/respond/",
    "POST /api/sessions/{id}/timer/start/",
    "POST /api/sessions/{id}/timer/stop/",
    "POST /api/sessions/{id}/end/",
    "WS ws/presence/ connect+auth (to online_users)",
    "WS ws/presence/ heartbeat round-trip",
    "WS ws/chat/{id}/ message sender->receiver",
}


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_quick_run_measures_every_scenario_without_errors(tmp_path: Path):
    output = tmp_path / "latest.json"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(output.read_text())
    rows = {row["name"]: row for row in report["scenarios"]}
    assert set(rows) == SCENARIOS
    for row in rows.values():
        # Against the real app every endpoint exists, so nothing may be skipped.
        assert row["status"] == "ok", row
        assert row["errors"] == 0, row
        assert row["requests"] > 0 and row["p99_ms"] is not None, row
    assert "p95 ms" in run.stdout


def small_context(server, *, users_wanted: int, run_id: str) -> Context:
    return Context.for_server(
        server,
        requests=3,
        concurrency=1,
        users_wanted=users_wanted,
        scenario_time_limit=5,
        time_budget=30,
        run_id=run_id,
    )


@pytest.fixture(scope="module")
def server():
    with BenchServer() as running:
        yield running
    assert _port_is_closed(running.port)
    running.cleanup_files()


@pytest.fixture(scope="module")
def ctx(server):
    context = small_context(server, users_wanted=1, run_id="smoke")
    assert setup.signup_users(context).status == "ok"
    return context


def test_missing_rest_endpoint_is_reported_as_skipped(ctx):
    result = rest.run_rest(ctx, "GET /api/not-built-yet/", rest.get("/api/not-built-yet/"))

    assert (result.status, result.note) == ("skipped", "endpoint not available (HTTP 404)")


def test_missing_websocket_route_is_reported_as_unavailable(ctx):
    async def connect():
        await ws.open_socket(ctx, "ws/not-built-yet/", ctx.users[0])

    with pytest.raises(ws.Unavailable, match="endpoint not available"):
        asyncio.run(connect())


def test_without_signup_every_scenario_is_skipped_not_crashed(server, monkeypatch):
    monkeypatch.setattr(setup, "SIGNUP", "/api/auth/not-built-yet/")
    context = small_context(server, users_wanted=2, run_id="nosignup")

    results = cli.run_scenarios(context)

    assert {r.name for r in results} == SCENARIOS - {"POST /api/auth/signup/"} | {
        "POST /api/auth/not-built-yet/"
    }
    assert results[0].note == "endpoint not available (HTTP 404)"
    assert all(r.status == "skipped" for r in results), [(r.name, r.status, r.note) for r in results]
