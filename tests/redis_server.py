"""A throwaway redis-server on a free loopback port, for tests that need Redis to die and come
back (the shared Redis must never be stopped)."""

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from bench.server import free_port


class RedisServer:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("needs the redis-server binary")
        self.process = subprocess.Popen(  # noqa: S603
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=(self.workdir / f"redis-{self.port}.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server on {self.port} did not start")

    def kill(self):
        """Dies at once, as a crashed or unplugged Redis would: no goodbye to its clients."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()
