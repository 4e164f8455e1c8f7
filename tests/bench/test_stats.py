import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bench import cli
from bench import server as bench_server
from bench.server import SERVERS, ServerError, default_server, server_command, tree_rss_bytes
from bench.stats import format_table, latency_summary, percentile


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0


def test_latency_summary_is_in_milliseconds_and_empty_is_none():
    assert latency_summary([0.003, 0.001, 0.002]) == {"p50_ms": 2.0, "p99_ms": 3.0, "max_ms": 3.0}
    assert latency_summary([]) == {"p50_ms": None, "p99_ms": None, "max_ms": None}


def test_table_aligns_numbers_and_shows_missing_values_as_dashes():
    rows = [
        {"name": "GET /api/posts/", "rps": 1234.5, "p99": None},
        {"name": "floor", "rps": 9.25, "p99": 3.0},
    ]
    columns = [("endpoint", "name"), ("req/s", "rps"), ("p99 ms", "p99")]

    text = format_table(rows, columns).splitlines()
    markdown = format_table(rows, columns, markdown=True).splitlines()

    assert text[2].split() == ["GET", "/api/posts/", "1,234", "-"]
    assert text[3].split() == ["floor", "9.2", "3.0"]
    assert markdown[0] == "| endpoint | req/s | p99 ms |"
    assert markdown[1] == "|---|---:|---:|"


def test_defaults_are_the_load_the_issue_asks_for():
    args = cli.parse_args([])

    assert (args.users, args.posts, args.concurrency) == (1000, 10000, 16)
    assert (args.chat_rate, args.chat_pairs) == (1000.0, 100)
    assert (args.high_rate, args.high_pairs) == (1250.0, 250)
    assert args.workers == [1, 2, 4]


def test_quick_is_small_and_explicit_options_still_win():
    args = cli.parse_args(["--quick", "--chat-rate", "25"])

    assert args.users <= 50 and args.rest_seconds < 1
    assert args.chat_rate == 25.0


def test_too_few_users_for_the_sessions_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--users", "100", "--chat-pairs", "10", "--high-pairs", "60"])
    assert "--users must be at least 120" in capsys.readouterr().err


def test_services_need_both_postgres_and_redis(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x")
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert cli.services(cli.parse_args([])) is None
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    assert cli.services(cli.parse_args([])) == (
        "postgres://postgres@127.0.0.1:5432/x",
        "redis://127.0.0.1:6379/3",
    )
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.sqlite3")
    monkeypatch.delenv("REDIS_URL")
    assert cli.services(cli.parse_args(["--pg"])) == (cli.LOCAL_POSTGRES, cli.LOCAL_REDIS)


def test_make_targets_run_the_makefile_recipe_pointed_at_the_port():
    argv, shares = server_command("make:run", host="127.0.0.1", port=4321, workers=3)

    assert argv[0] == "make" and "run" in argv
    assert {"HOST=127.0.0.1", "PORT=4321", "WORKERS=3"} <= set(argv)
    assert shares is False
    assert default_server("run") == "make:run"  # the Makefile has `run:`


def test_several_daphne_workers_share_one_socket_and_templates_are_filled():
    _argv, shares = server_command("daphne", host="127.0.0.1", port=1, workers=2)
    argv, _ = server_command("my-server --port {port} -w {workers} {app}", host="h", port=7, workers=4)

    assert shares is True
    assert argv == ["my-server", "--port", "7", "-w", "4", "linklearn.asgi:application"]
    assert set(SERVERS) >= {"daphne", "uvicorn", "gunicorn", "granian"}
    with pytest.raises(ServerError, match="unknown server"):
        server_command("nonsense", host="h", port=1, workers=1)


def test_memory_of_a_process_tree_is_read_from_proc():
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc")
    assert tree_rss_bytes(os.getpid()) > 10 * 2**20  # this Python process with Django loaded


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):  # gone meanwhile
        return None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile
        return b""


@pytest.mark.parametrize("children_files", [True, False], ids=["task-children", "full-scan"])
def test_a_process_tree_includes_grandchildren_with_or_without_children_files(monkeypatch, children_files):
    """The server's workers are its children or grandchildren (make -> granian -> workers): the
    memory and CPU of all of them count, whether the kernel lists children per task or not."""
    if not os.path.exists("/proc/self/stat"):
        pytest.skip("needs /proc")
    if not children_files:
        monkeypatch.setattr(bench_server, "_children_of", lambda pid: None)
    # A shell (the child) that starts a sleep (the grandchild) and waits for it.
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])  # noqa: S603, S607
    try:
        # Until the shell has forked and its child has become `sleep` (this process may have
        # other children, from other tests, too).
        deadline = time.monotonic() + 10
        while True:
            tree = bench_server._tree(os.getpid())
            sleeps = [pid for pid in tree if _parent(pid) == shell.pid and _cmdline(pid).startswith(b"sleep")]
            if sleeps or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert shell.pid in tree
        assert sleeps, tree
        assert bench_server.tree_cpu_seconds(os.getpid()) > 0
    finally:
        for pid in bench_server._tree(shell.pid)[1:]:
            os.kill(pid, signal.SIGKILL)
        shell.wait(timeout=5)


def test_a_sweep_step_passes_only_when_fast_complete_and_unrefused():
    good = {"p99_ms": 50.0, "lost": 0, "error_frames": 0, "connect_failed": 0, "drained": True}

    assert cli.passes(good, 100)
    assert not cli.passes({**good, "p99_ms": 150.0}, 100)
    assert not cli.passes({**good, "lost": 1}, 100)
    assert not cli.passes({**good, "error_frames": 3}, 100)
    assert not cli.passes({**good, "p99_ms": None}, 100)


def test_process_sweep_is_summarised_relative_to_one_worker():
    rows = [
        {"config": "serve", "name": "GET /api/users/me/", "workers": 1, "rps": 100.0},
        {"config": "serve", "name": "GET /api/users/me/", "workers": 2, "rps": 180.0},
        {"config": "run", "name": "GET /api/users/me/", "workers": 1, "rps": 999.0},
    ]

    assert cli.scaling_lines(rows) == [
        "process sweep, one server after another, GET /api/users/me/: 2 workers 1.80x the req/s of 1 worker"
    ]


def test_an_earlier_json_prints_as_markdown_tables(tmp_path):
    report = {
        "date": "2026-12-01T10:00:00+00:00",
        "git_commit": "abc1234",
        "git_dirty": False,
        "duration_s": 300.0,
        "machine": {"cpus": 2, "platform": "Linux", "python": "3.11.7", "loadavg_at_end": [1.0, 1.0, 1.0]},
        "rest": [
            {
                "name": "GET /api/users/me/",
                "config": "run",
                "workers": 1,
                "rps": 50.0,
                "floor_rps_paired": 100.0,
                "x_floor": 2.0,
            }
        ],
        "chat": [],
        "sweeps": [],
        "servers": [],
        "checks": [{"config": "run", "check": "ledger_check at the end", "ok": True, "detail": "OK"}],
        "notes": [],
    }
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(report))

    text = cli.markdown(path)

    assert text.startswith("2026-12-01T10:00:00+00:00, commit abc1234, 2 CPUs")
    assert "| GET /api/users/me/ | run | 1 | 50.0 | - | - | - | - | 100 | 2.0 |" in text
    assert "run: ledger_check at the end: ok (OK)" in text
