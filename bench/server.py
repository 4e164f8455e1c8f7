"""The throwaway server the benchmark talks to: its own database, its own daphne process.

Nothing here touches a database or Redis key space the benchmark did not create, except that on
PostgreSQL it connects to the server's `postgres` database to create and drop `ll_bench_<random>`.
"""

import contextlib
import http.client
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}

# The benchmark signs up many users from one IP and sends far more frames per socket than a
# person would: every limit that would turn its own traffic into 429s or WS errors is raised.
UNTHROTTLED = {
    "THROTTLE_SIGNUP": "1000000/hour",
    "THROTTLE_LOGIN_FAILURES_IP": "1000000/hour",
    "THROTTLE_LOGIN_FAILURES_ACCOUNT": "1000000/hour",
    "THROTTLE_TOKEN_REFRESH": "1000000/hour",
    "WS_RATE_LIMIT": "1000000",
    "WS_USER_RATE_LIMIT": "1000000",
    "THROTTLE_LOGIN_FAILURES_ACCOUNT_TOTAL": "1000000/hour",
}


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    # Linux only: if the benchmark is killed with SIGKILL, the kernel still stops daphne.
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _venv_tool(name: str) -> list[str]:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return [str(candidate)]
    return [sys.executable, "-m", name]


class PostgresDatabase:
    """Creates `ll_bench_<random>` next to the database DATABASE_URL names, and drops it."""

    def __init__(self, url: str):
        self.source = urlsplit(url)
        self.name = f"ll_bench_{secrets.token_hex(4)}"

    def _admin_dsn(self) -> str:
        parts = self.source._replace(scheme="postgresql", path="/postgres")
        return urlunsplit(parts)

    @property
    def url(self) -> str:
        return urlunsplit(self.source._replace(path=f"/{self.name}"))

    def _execute(self, sql: str):
        import psycopg

        with psycopg.connect(self._admin_dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self):
        self._execute(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        # FORCE (PostgreSQL 13+) ends connections daphne may have left behind.
        try:
            self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception:
            self._execute(f'DROP DATABASE IF EXISTS "{self.name}"')


class BenchServer:
    """`with BenchServer() as server:` migrates a fresh database and serves it on a free port."""

    def __init__(self, environ: dict | None = None, startup_timeout: float = 60.0):
        self.environ = dict(os.environ if environ is None else environ)
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix="ll-bench-"))
        self.log_path = self.tmpdir / "server.log"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.postgres: PostgresDatabase | None = None
        self._log_file = None
        self.database, self.channel_layer = "sqlite", "in-memory"

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def _child_env(self) -> dict:
        env = dict(self.environ)
        env.update(UNTHROTTLED)
        env.update(DEBUG="True", ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="WARNING")
        env.pop("DJANGO_SETTINGS_MODULE", None)
        database_url = self.environ.get("DATABASE_URL", "")
        if urlsplit(database_url).scheme in POSTGRES_SCHEMES:
            self.postgres = PostgresDatabase(database_url)
            env["DATABASE_URL"] = self.postgres.url
            self.database = "postgresql"
        else:
            env["DATABASE_URL"] = f"sqlite:///{self.tmpdir / 'bench.sqlite3'}"
        if self.environ.get("REDIS_URL") or self.environ.get("REDIS_HOST"):
            self.channel_layer = "redis"
        else:
            # Pin the embedded default so a REDIS_URL in a local .env cannot sneak in.
            env.update(USE_IN_MEMORY_CHANNEL_LAYER="True", CACHE_URL="locmemcache://")
        return env

    def start(self):
        env = self._child_env()
        if self.postgres:
            try:
                self.postgres.create()
            except Exception as exc:
                raise ServerError(f"could not create {self.postgres.name}: {exc}") from exc
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        # Fixed argv from this file, no shell: nothing untrusted reaches these two commands.
        migrate = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            timeout=180,
            check=False,
        )
        if migrate.returncode != 0:
            raise ServerError(f"manage.py migrate failed:\n{self.log_tail()}")
        cmd = [*_venv_tool("daphne"), "-b", self.host, "-p", str(self.port), "linklearn.asgi:application"]
        self.process = subprocess.Popen(  # noqa: S603
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self._wait_until_serving()

    def _wait_until_serving(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"daphne exited with {self.process.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
            try:
                conn.request("GET", "/api/health/")
                conn.getresponse().read()
                return  # any HTTP answer means the application is loaded
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        raise ServerError(f"daphne did not answer within {self.startup_timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def log_contains(self, text: str) -> bool:
        with contextlib.suppress(OSError):
            return text in self.log_path.read_text(errors="replace")
        return False

    def stop(self):
        """Idempotent: safe from finally, atexit and a signal handler alike."""
        process, self.process = self.process, None
        if process and process.poll() is None:
            process.terminate()
            try:
                # Nothing to save gracefully: don't wait out daphne's application close timeout.
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        postgres, self.postgres = self.postgres, None
        if postgres:
            with contextlib.suppress(Exception):
                postgres.drop()
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def cleanup_files(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
