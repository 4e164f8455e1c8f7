"""40 people signing up at once against a real server (production hasher, real database file or
PostgreSQL, whichever the suite runs on): every answer is a 201 or a clear 4xx, never a 500.

Before hashing moved out of the signup transaction, SQLite's write lock was held while each
password was hashed, and signups queued behind each other until the lock timeout gave up (500)."""

import http.client
import json
import os
import threading
import time

import pytest

from bench.server import Backend, BenchServer, default_server

pytestmark = pytest.mark.e2e

PASSWORD = "plum-Tarmac-88-voyage"


def _signup(port: int, email: str, name: str) -> int:
    body = json.dumps({"email": email, "name": name, "password": PASSWORD, "password_confirm": PASSWORD})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/api/auth/signup/", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_forty_concurrent_signups_never_500():
    # 32 distinct people and 8 who all try the same email: 32 + 1 created, 7 refused.
    people = [(f"person{i}@example.com", f"Person {i}") for i in range(32)]
    people += [("twin@example.com", f"Twin {i}") for i in range(8)]
    statuses = [None] * len(people)
    barrier = threading.Barrier(len(people))

    # The suite's configuration: a fresh SQLite file served by `make run`, or (PostgreSQL pass) a
    # fresh PostgreSQL database + Redis served by `make serve`'s processes.
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    shape = "serve" if database_url and database_url.startswith("postgres") and redis_url else "run"
    backend = Backend(database_url=database_url, redis_url=redis_url if shape == "serve" else None)
    with (
        backend,
        BenchServer(backend, server=default_server(shape), workers=2 if shape == "serve" else 1) as server,
    ):

        def run(i):
            barrier.wait(timeout=30)
            try:
                statuses[i] = _signup(server.port, *people[i])
            except OSError as exc:  # a dropped connection is as bad as a 500
                statuses[i] = repr(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(people))]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        elapsed = time.monotonic() - started
        log = server.log_tail()

    assert all(status in (201, 400, 409) for status in statuses), (statuses, log)
    assert statuses[:32] == [201] * 32
    assert statuses[32:].count(201) == 1, statuses
    print(f"40 signups in {elapsed:.2f} s ({len(people) / elapsed:.0f}/s)")
