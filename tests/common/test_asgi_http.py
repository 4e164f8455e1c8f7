"""The HTTP handler keeps a fixed set of threads (and so their database connections) across
requests, runs each request's synchronous work in one hop to its thread, and the SQLite settings
turn on WAL with a busy timeout."""

import asyncio
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connection
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

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


def _plain(request):
    return HttpResponse(b"plain")


async def _parts():
    for part in (b"one ", b"two"):
        yield part


def _streaming(request):
    return StreamingHttpResponse(_parts())


urlpatterns = [path("plain/", _plain), path("streaming/", _streaming)]


@pytest.fixture
def events(settings):
    """What happened, in order: signals and views with the thread they ran on, messages sent."""
    settings.ROOT_URLCONF = __name__
    happened = []
    # Only this module's requests and their threads: a request another test left running in the
    # same process may still finish while these run.
    ours = set()

    def started(scope=None, **kwargs):
        if scope is not None and scope["path"] in {"/plain/", "/streaming/"}:
            ours.add(threading.get_ident())
            happened.append(("started", threading.get_ident()))

    def finished(**kwargs):
        if threading.get_ident() in ours:
            happened.append(("finished", threading.get_ident()))

    request_started.connect(started, weak=False)
    request_finished.connect(finished, weak=False)
    yield happened
    request_started.disconnect(started)
    request_finished.disconnect(finished)


async def _exchange(app, path: str, events) -> list:
    comm = ApplicationCommunicator(app, _scope(path))
    await comm.send_input({"type": "http.request", "body": b""})
    while True:
        message = await comm.receive_output(5)
        events.append((message["type"], message.get("body")))
        if message["type"] == "http.response.body" and not message.get("more_body"):
            break
    await comm.wait(5)
    return events


async def test_a_request_hops_to_its_thread_once_and_is_finished_before_it_is_sent(events):
    happened = await _exchange(DjangoHTTP(threads=1), "/plain/", events)
    assert [event[0] for event in happened] == [
        "started",
        "finished",  # the database connection is back in the pool before the client hears back
        "http.response.start",
        "http.response.body",
    ]
    assert happened[0][1] == happened[1][1] != threading.get_ident()
    assert happened[-1][1] == b"plain"


async def test_a_streaming_response_is_finished_after_its_body_is_sent(events):
    happened = await _exchange(DjangoHTTP(threads=1), "/streaming/", events)
    kinds = [event[0] for event in happened]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    body = b"".join(event[1] or b"" for event in happened if event[0] == "http.response.body")
    assert body == b"one two"


@pytest.mark.parametrize("path", ["/plain/", "/streaming/"])
async def test_a_client_gone_before_the_response_gets_none_and_the_request_still_finishes(events, path):
    release = threading.Event()
    request_started.connect(lambda **kwargs: release.wait(5), weak=False, dispatch_uid="hold")
    try:
        comm = ApplicationCommunicator(DjangoHTTP(threads=1), _scope(path))
        await comm.send_input({"type": "http.request", "body": b""})
        await comm.send_input({"type": "http.disconnect"})
        await comm.wait(5)  # the handler returns without waiting for the view
        release.set()
        for _ in range(100):  # the view, on its thread, runs to its end and is finished
            if any(kind == "finished" for kind, _ in events):
                break
            await asyncio.sleep(0.02)
        assert [kind for kind, _ in events] == ["started", "finished"]
        assert await comm.receive_nothing()
    finally:
        release.set()
        request_started.disconnect(dispatch_uid="hold")


async def test_an_unsent_streaming_response_that_fails_to_close_is_logged(events, caplog):
    release = threading.Event()
    request_started.connect(lambda **kwargs: release.wait(5), weak=False, dispatch_uid="hold")
    # Closing a response sends request_finished; a receiver that fails makes the close fail.
    request_finished.connect(lambda **kwargs: 1 / 0, weak=False, dispatch_uid="fail")
    try:
        comm = ApplicationCommunicator(DjangoHTTP(threads=1), _scope("/streaming/"))
        await comm.send_input({"type": "http.request", "body": b""})
        await comm.send_input({"type": "http.disconnect"})
        await comm.wait(5)
        release.set()
        for _ in range(100):
            if "closing an unsent streaming response failed" in caplog.text:
                break
            await asyncio.sleep(0.02)
        failure = next(r for r in caplog.records if r.name == "common.asgi_http")
        assert failure.levelname == "ERROR"
        assert failure.exc_info[0] is ZeroDivisionError
    finally:
        release.set()
        request_started.disconnect(dispatch_uid="hold")
        request_finished.disconnect(dispatch_uid="fail")


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
