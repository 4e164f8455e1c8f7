"""A server is measured only once all its workers have finished starting (bench.server)."""

import subprocess
import sys
import time
from types import SimpleNamespace

from bench.server import BenchServer

# Busy for argv[1] seconds (a worker still importing and warming up), then idle.
STARTING_WORKER = (
    "import time, sys\n"
    "end = time.monotonic() + float(sys.argv[1])\n"
    "while time.monotonic() < end: pass\n"
    "time.sleep(60)"
)


def _server_with(tmp_path, *busy_seconds: float) -> BenchServer:
    backend = SimpleNamespace(tmpdir=tmp_path)
    server = BenchServer(backend, server="fake", workers=len(busy_seconds))
    server.processes = [
        subprocess.Popen([sys.executable, "-c", STARTING_WORKER, str(busy)])  # noqa: S603
        for busy in busy_seconds
    ]
    return server


def _stop(server: BenchServer):
    for process in server.processes:
        process.kill()
        process.wait()


def test_waits_for_the_slowest_worker_to_finish_starting(tmp_path):
    server = _server_with(tmp_path, 0.2, 1.5)
    try:
        started = time.monotonic()
        server._wait_until_settled()
        waited = time.monotonic() - started
    finally:
        _stop(server)
    assert waited >= 1.2  # not measured while the second worker still burns CPU


def test_gives_up_on_a_server_that_never_idles(tmp_path):
    server = _server_with(tmp_path, 60)
    try:
        started = time.monotonic()
        server._wait_until_settled(timeout=1.5)
        waited = time.monotonic() - started
    finally:
        _stop(server)
    assert 1.4 <= waited < 5
