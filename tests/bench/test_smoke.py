"""`make bench` can't rot: `python -m bench --quick` against real servers, end to end.

Runs on whatever DATABASE_URL / REDIS_URL the suite runs on: on PostgreSQL + Redis the quick run
measures the serve configuration (several processes, its own `ll_bench_<random>` database), on
the embedded default the `make run` one.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

from bench.server import REPO_ROOT

pytestmark = pytest.mark.e2e

ENDPOINTS = {
    "floor: constant 20 items",
    "GET /api/posts/ (page of 20)",
    "GET /api/users/me/",
    "GET /api/sessions/",
    "GET /api/posts/matches/",
    "POST /api/auth/login/",
    "POST /api/auth/signup/",
}


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "delivered/s" in run.stdout and "x floor" in run.stdout
    return json.loads(output.read_text())


def test_every_rest_endpoint_answers_under_load_and_is_compared_to_the_floor(report):
    rows = {row["name"]: row for row in report["rest"]}

    assert set(rows) == ENDPOINTS
    for row in rows.values():
        assert row["errors"] == 0, row
        assert row["rps"] > 0 and row["p99_ms"] is not None, row
        assert row["x_floor"] is not None, row
    assert rows["floor: constant 20 items"]["x_floor"] == 1.0
    # Every other endpoint is compared with the floor measured in slices around it.
    for name, row in rows.items():
        if name != "floor: constant 20 items":
            assert row["floor_rps_paired"] > 0, row
            assert row["x_floor"] == round(row["floor_rps_paired"] / row["rps"], 2), row


def test_chat_loses_nothing_at_a_gentle_rate_and_the_database_holds_every_broadcast(report):
    names = [row["scenario"] for row in report["chat"]]
    assert names[0] == "chat" and any(name.startswith("sweep") for name in names)
    for row in report["chat"]:
        assert row["sent"] > 0 and row["p99_ms"] is not None, row
        assert (row["duplicates"], row["connect_failed"]) == (0, 0), row
        assert row["stored"] >= row["broadcast"], row  # stored before broadcast
        if row["drained"]:
            assert row["lost"] == 0 and row["stored"] == row["broadcast"], row
    # A gentle rate (20 msgs/s) drains even on a busy machine: everything arrives and is stored.
    first = report["chat"][0]
    assert first["drained"] and first["stored"] == first["sent"], first


def test_seed_reconciles_and_servers_are_measured_and_stopped(report):
    assert report["seeds"][0]["users"] >= 40 and report["seeds"][0]["posts"] >= 400
    assert [c["ok"] for c in report["checks"]] == [True, True], report["checks"]
    for server in report["servers"]:
        assert server["peak_rss_mb"] > 20, server
        assert _port_is_closed(server["port"]), server
    assert report["sweeps"] and report["sweeps"][0]["rates_tried"]
