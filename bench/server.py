"""The throwaway databases and server processes the benchmark talks to.

Nothing here touches a database or Redis key space the benchmark did not create, except that on
PostgreSQL it connects to the server's `postgres` database to create and drop `ll_bench_<random>`.

The server command is a parameter (`--server`): `make:run` / `make:serve` run that Makefile
target (so the benchmark serves exactly what those commands serve, read at run time), a name from
SERVERS, or a command template with {host}, {port}, {workers} and {app} placeholders.
"""

import contextlib
import http.client
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "postgis"}
APP = "linklearn.asgi:application"

# The benchmark signs up many users from one IP and sends far more frames per socket than a
# person would: every limit that would turn its own traffic into 429s or WS errors is raised.
UNTHROTTLED = {
    "THROTTLE_SIGNUP": "1000000/hour",
    "THROTTLE_LOGIN_FAILURES_IP": "1000000/hour",
    "THROTTLE_LOGIN_FAILURES_ACCOUNT": "1000000/hour",
    "THROTTLE_LOGIN_FAILURES_ACCOUNT_TOTAL": "1000000/hour",
    "THROTTLE_TOKEN_REFRESH": "1000000/hour",
    "WS_RATE_LIMIT": "1000000",
    "WS_USER_RATE_LIMIT": "1000000",
}

# Known servers besides the Makefile targets. `daphne` with more than one worker runs that many
# daphne processes accepting on one listening socket the benchmark binds (--fd), a pre-fork
# model that needs nothing but daphne.
SERVERS = {
    "daphne": "{bin}/daphne -b {host} -p {port} {app}",
    "uvicorn": "{bin}/uvicorn --host {host} --port {port} --workers {workers} --no-access-log "
    "--log-level warning {app}",
    "gunicorn": "{bin}/gunicorn -k uvicorn.workers.UvicornWorker -w {workers} -b {host}:{port} {app}",
    "granian": "{bin}/granian --interface asgi --host {host} --port {port} --workers {workers} {app}",
}


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def makefile_has(target: str) -> bool:
    with contextlib.suppress(OSError):
        text = (REPO_ROOT / "Makefile").read_text()
        return re.search(rf"^{re.escape(target)}\s*:", text, re.MULTILINE) is not None
    return False


def default_server(shape: str) -> str:
    """What `make run` (one process) or `make serve` (production shape) serve, if it exists."""
    if shape == "serve":
        return "make:serve" if makefile_has("serve") else "daphne"
    return "make:run" if makefile_has("run") else "daphne"


def _die_with_parent():
    # Linux only: if the benchmark is killed with SIGKILL, the kernel still stops the server.
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# --- databases -------------------------------------------------------------------------------


class SqliteDatabase:
    kind = "sqlite"

    def __init__(self, directory: Path):
        self.path = directory / "bench.sqlite3"
        self.url = f"sqlite:///{self.path}"

    def create(self):
        pass

    def drop(self):
        pass

    def scalar(self, sql: str, params: tuple = ()):
        with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as conn:
            return conn.execute(sql.replace("%s", "?"), params).fetchone()[0]


class PostgresDatabase:
    """Creates `ll_bench_<random>` next to the database the given URL names, and drops it."""

    kind = "postgresql"

    def __init__(self, url: str):
        self.source = urlsplit(url)
        self.name = f"ll_bench_{secrets.token_hex(4)}"

    def _dsn(self, database: str) -> str:
        return urlunsplit(self.source._replace(scheme="postgresql", path=f"/{database}"))

    @property
    def url(self) -> str:
        return urlunsplit(self.source._replace(path=f"/{self.name}"))

    def _admin(self, sql: str):
        import psycopg

        with psycopg.connect(self._dsn("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self):
        self._admin(f'CREATE DATABASE "{self.name}"')

    def drop(self):
        # FORCE (PostgreSQL 13+) ends connections a server may have left behind.
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}"')

    def scalar(self, sql: str, params: tuple = ()):
        import psycopg

        with psycopg.connect(self._dsn(self.name), connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchone()[0]


# --- memory ----------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    """Every process's children, from a scan of all of /proc (where the kernel offers no
    per-task children lists)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            # The command name may contain spaces and parentheses: split after the last ')'.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    return children


def _children_of(pid: int) -> list[int] | None:
    """`pid`'s children from /proc/<pid>/task/*/children, or None where the kernel has no such
    file. Reading a few small files instead of all of /proc: the sampler runs in the load
    generator's process, every 0.25 s, and a full scan held its interpreter ~7 ms each time."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone
    found: list[int] = []
    for task in tasks:
        try:
            found += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except FileNotFoundError:
            if not Path(f"/proc/{pid}/task/{task}").exists():
                continue  # the thread ended meanwhile
            return None  # no children files on this kernel
        except OSError:
            continue
    return found


def _tree(root: int) -> list[int]:
    """`root` and every live descendant."""
    scanned: dict[int, list[int]] | None = None  # the full scan, once, if the kernel needs it
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        children = _children_of(pid) if scanned is None else None
        if children is None:
            scanned = _children_map() if scanned is None else scanned
            children = scanned.get(pid, [])
        pending.extend(children)
    return tree


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and every descendant, less make and shells wrapping the server."""
    total = 0
    for pid in _tree(root):
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            name = re.search(r"^Name:\s*(\S+)", status, re.MULTILINE)
            rss = re.search(r"^VmRSS:\s*(\d+) kB", status, re.MULTILINE)
            if rss and not (name and name.group(1) in {"make", "sh", "bash"}):
                total += int(rss.group(1)) * 1024
    return total


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) spent so far by `root` and every live descendant: read before
    and after a phase, the difference is what the server spent on it (robust to a busy machine,
    unlike wall-clock rates)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in _tree(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


class RssSampler(threading.Thread):
    """Samples the total RSS of the server process trees every `interval` s; `peak` is the
    highest sum seen (all workers at the same moment)."""

    def __init__(self, roots: list[int], interval: float = 0.25):
        super().__init__(daemon=True)
        self.roots, self.interval = roots, interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            if sys.platform == "linux":
                self.peak = max(self.peak, sum(tree_rss_bytes(root) for root in self.roots))
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        return self.peak


# --- the server ------------------------------------------------------------------------------


class Backend:
    """A database (+ optional Redis) the server processes share; migrated once, seeded once."""

    def __init__(self, *, database_url: str | None = None, redis_url: str | None = None):
        self.tmpdir = Path(tempfile.mkdtemp(prefix="ll-bench-"))
        if database_url and urlsplit(database_url).scheme in POSTGRES_SCHEMES:
            self.db = PostgresDatabase(database_url)
        else:
            self.db = SqliteDatabase(self.tmpdir)
        self.redis_url = redis_url or None
        self.secret_key = secrets.token_urlsafe(64)
        self.created = False

    @property
    def label(self) -> str:
        return f"{self.db.kind} + {'redis' if self.redis_url else 'in-memory'}"

    def env(self, base: dict | None = None) -> dict:
        env = dict(os.environ if base is None else base)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.update(UNTHROTTLED)
        # The production settings path (DEBUG off), on plain HTTP on loopback.
        env.update(
            DEBUG="False",
            SECRET_KEY=self.secret_key,
            SECURE_SSL_REDIRECT="False",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            LOG_LEVEL="WARNING",
            BENCH_FLOOR_VIEW="True",
            DATABASE_URL=self.db.url,
        )
        if self.redis_url:
            env.update(REDIS_URL=self.redis_url, USE_IN_MEMORY_CHANNEL_LAYER="False")
            env.pop("CACHE_URL", None)
        else:
            # Pin the embedded default so a REDIS_URL in a local .env cannot sneak in.
            env.pop("REDIS_URL", None)
            env.pop("REDIS_HOST", None)
            env.update(USE_IN_MEMORY_CHANNEL_LAYER="True", CACHE_URL="locmemcache://")
        return env

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        # Fixed argv from this package, no shell.
        return subprocess.run(  # noqa: S603
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def create(self):
        try:
            self.db.create()
        except Exception as exc:
            raise ServerError(f"could not create the database: {exc}") from exc
        self.created = True
        migrate = self.manage("manage.py", "migrate", "--noinput")
        if migrate.returncode != 0:
            raise ServerError(f"manage.py migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")

    def drop(self):
        if self.created:
            self.created = False
            with contextlib.suppress(Exception):
                self.db.drop()

    def cleanup_files(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self):
        try:
            self.create()
        except BaseException:
            self.drop()
            raise
        return self

    def __exit__(self, *exc):
        self.drop()
        self.cleanup_files()


def server_command(server: str, *, host: str, port: int, workers: int) -> tuple[list[str], bool]:
    """(argv, shares_socket): shares_socket when the benchmark must bind the port (daphne × N)."""
    if server.startswith("make:"):
        target = server.split(":", 1)[1]
        # The Makefile's own recipe, with its variables pointed at this run.
        argv = ["make", "--no-print-directory", "-s", target, f"HOST={host}", f"PORT={port}"]
        return [*argv, f"WORKERS={workers}"], False
    if server == "daphne" and workers > 1:
        return shlex.split(SERVERS["daphne"].format(bin=_bin(), host=host, port=port, app=APP)), True
    template = SERVERS.get(server, server)
    if "{port}" not in template:
        raise ServerError(f"unknown server {server!r}: use make:TARGET, {', '.join(SERVERS)} or a template")
    text = template.format(bin=_bin(), host=host, port=port, workers=workers, app=APP)
    return shlex.split(text), False


def _bin() -> str:
    return str(Path(sys.executable).parent)


class BenchServer:
    """`with BenchServer(backend, server="make:run") as s:` serves the backend on a free port."""

    def __init__(self, backend: Backend, *, server: str = "daphne", workers: int = 1, startup_timeout=60.0):
        self.backend, self.server, self.workers = backend, server, workers
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.port = free_port()
        self.log_path = backend.tmpdir / f"server-{self.port}.log"
        self.processes: list[subprocess.Popen] = []
        self.sampler: RssSampler | None = None
        self.peak_rss = 0
        self._log_file = None
        self._listener: socket.socket | None = None

    @property
    def label(self) -> str:
        return f"{self.server} x{self.workers}"

    def _spawn(self, argv: list[str], pass_fds=()) -> subprocess.Popen:
        # argv is the Makefile's recipe, a known server or the operator's own template.
        return subprocess.Popen(  # noqa: S603
            argv,
            cwd=REPO_ROOT,
            env=self.backend.env(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            start_new_session=True,  # one process group per server, stopped as a whole
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def start(self):
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        argv, shares_socket = server_command(
            self.server, host=self.host, port=self.port, workers=self.workers
        )
        if shares_socket:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((self.host, self.port))
            self._listener.listen(1024)
            fd = self._listener.fileno()
            argv = [argv[0], "--fd", str(fd), APP]
            self.processes = [self._spawn(argv, pass_fds=(fd,)) for _ in range(self.workers)]
        else:
            self.processes = [self._spawn(argv)]
        self.sampler = RssSampler([p.pid for p in self.processes])
        self.sampler.start()
        self._wait_until_serving()
        self._wait_until_settled()

    def _wait_until_serving(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise ServerError(f"{self.server} exited with {process.returncode}:\n{self.log_tail()}")
            conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
            try:
                conn.request("GET", "/api/bench/floor/")
                conn.getresponse().read()
                return  # any HTTP answer means the application is loaded
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        waited = f"{self.startup_timeout:.0f}s"
        raise ServerError(f"{self.server} did not answer within {waited}:\n{self.log_tail()}")

    def _wait_until_settled(self, *, window: float = 0.5, quiet_cpu: float = 0.1, timeout: float = 30.0):
        """Wait until the server's process tree is idle (under `quiet_cpu` s of CPU in a `window`).

        The first answer comes from whichever worker booted first; the others may still be
        importing Django and warming up, on the same cores the measurement then uses. Measuring
        then charged several workers' start-up to the first row (the floor with 2 workers read
        0.76x the floor with 1). Gives up quietly after `timeout`: a server that never idles is
        measured as it is."""
        deadline = time.monotonic() + timeout
        before = sum(tree_cpu_seconds(p.pid) for p in self.processes)
        while time.monotonic() < deadline:
            time.sleep(window)
            after = sum(tree_cpu_seconds(p.pid) for p in self.processes)
            if after - before < quiet_cpu:
                return
            before = after

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self):
        """Idempotent: safe from finally, atexit and a signal handler alike."""
        processes, self.processes = self.processes, []
        if self.sampler:
            self.peak_rss = max(self.peak_rss, self.sampler.stop())
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                # Nothing to save gracefully: don't wait out a server's shutdown timeout.
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._listener:
            self._listener.close()
            self._listener = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
