"""The HTTP handler keeps a fixed set of threads (and so their database connections) across
requests, and the SQLite settings turn on WAL with a busy timeout."""

import asyncio
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.signals import request_started
from django.db import connection

from common.asgi_http import DjangoHTTP


def _scope(path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }


async def _get(app, path: str) -> tuple[int, bytes]:
    comm = ApplicationCommunicator(app, _scope(path))
    await comm.send_input({"type": "http.request", "body": b""})
    start = await comm.receive_output(5)
    body = await comm.receive_output(5)
    await comm.wait(5)
    return start["status"], body["body"]


@pytest.fixture
def threads_seen():
    seen = []
    lock = threading.Lock()

    def record(**kwargs):
        with lock:
            seen.append(threading.get_ident())

    request_started.connect(record, weak=False)
    yield seen
    request_started.disconnect(record)


async def test_requests_reuse_the_same_threads(threads_seen):
    seen = threads_seen
    app = DjangoHTTP(threads=2)
    for _ in range(6):
        status, body = await _get(app, "/api/no-such-thing/")
        assert status == 404
        assert b"Not found" in body
    results = await asyncio.gather(*[_get(app, "/api/no-such-thing/") for _ in range(8)])
    assert [status for status, _ in results] == [404] * 8
    # Stock Django would have started 14 threads (one per request).
    assert len(seen) == 14
    assert len(set(seen)) <= 2


async def test_a_request_runs_off_the_event_loop_thread(threads_seen):
    seen = threads_seen
    await _get(DjangoHTTP(threads=1), "/api/no-such-thing/")
    assert seen and seen[0] != threading.get_ident()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite settings")
def test_sqlite_connections_use_wal_and_wait_for_the_lock(tmp_path):
    from django.db.backends.sqlite3.base import DatabaseWrapper

    probe_settings = {**settings.DATABASES["default"], "NAME": str(tmp_path / "probe.sqlite3")}
    probe = DatabaseWrapper(probe_settings, "probe")
    try:
        with probe.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 20_000
    finally:
        probe.close()
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] is None  # kept across requests
