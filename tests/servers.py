"""Real daphne server processes for end-to-end and fault tests, and the client calls they need.

The servers share the test database (so a test prepares data with factories and reads the outcome
with the ORM; it must use `transactional_db` so both sides see committed rows) and whatever Redis
the test names. They are stopped before the test database is flushed.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import environ
from django.db import connection

from bench.server import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WAIT = 15  # seconds any single expected event may take


def shared_test_database_url() -> str:
    """The test database pytest-django created, as a URL for a server process."""
    base = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    user = base["USER"] or "postgres"
    password = f":{base['PASSWORD']}" if base["PASSWORD"] else ""
    host = base["HOST"] or "127.0.0.1"
    port = base["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{connection.settings_dict['NAME']}"


class Server:
    """One daphne process on a free port; its output goes to a log file for failure messages."""

    def __init__(self, env: dict, log: Path):
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(  # noqa: S603
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "linklearn.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def wait_until_serving(self, timeout: float = 45):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daphne on {self.port} exited:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/health/", timeout=2)  # noqa: S310
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"daphne on {self.port} did not start:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def kill(self):
        """SIGKILL: no cleanup, no closing frames, as a crashed machine or the OOM killer."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_servers(count: int, env: dict, tmp_path: Path) -> list[Server]:
    """Start `count` servers at once (imports are slow on a busy machine) and wait for all."""
    env = {**os.environ, "DEBUG": "True", "USE_IN_MEMORY_CHANNEL_LAYER": "False", **env}
    servers = [Server(env, tmp_path / f"daphne-{i}.log") for i in range(count)]
    try:
        for server in servers:
            server.wait_until_serving()
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def rest(port: int, method: str, path: str, body=None, token=None, timeout: float = 10):
    """(status, JSON body) of one request; HTTP errors are answers, not exceptions."""
    request = urllib.request.Request(  # noqa: S310
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


async def open_socket(port: int, path: str, token: str):
    from websockets.asyncio.client import connect

    return await asyncio.wait_for(
        connect(f"ws://127.0.0.1:{port}{path}?token={token}", origin=f"http://127.0.0.1:{port}"), WAIT
    )


async def expect(sock, frame_type: str, timeout: float = WAIT, **match) -> dict:
    """The next frame of `frame_type` whose fields include `match`, within `timeout` seconds."""

    async def scan():
        while True:
            frame = json.loads(await sock.recv())
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in match.items()):
                return frame

    return await asyncio.wait_for(scan(), timeout)


async def close_code(sock, timeout: float = WAIT) -> int:
    """The close code the server ends `sock` with (frames before it are skipped)."""
    from websockets.exceptions import ConnectionClosed

    async def drain():
        try:
            while True:
                await sock.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    return await asyncio.wait_for(drain(), timeout)
