"""A small JSON client over one keep-alive http.client connection (one per worker thread)."""

import http.client
import json
import time
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    data: object
    seconds: float
    error: str | None  # None on a 2xx; otherwise a short kind for the report ("HTTP 500", "timeout")

    @property
    def ok(self) -> bool:
        return self.error is None


class Api:
    def __init__(self, host: str, port: int, token: str | None = None, timeout: float = 15.0):
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def call(self, method: str, path: str, body: object = None, token: str | None = None) -> Response:
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token or self.token:
            headers["Authorization"] = f"Bearer {token or self.token}"
        started = time.perf_counter()
        try:
            conn = self._connection()
            conn.request(method, path, body=payload, headers=headers)
            raw = conn.getresponse()
            content = raw.read()
            status = raw.status
            if raw.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as exc:
            # A dropped keep-alive connection is reopened on the next call.
            self.close()
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return Response(0, None, time.perf_counter() - started, kind)
        seconds = time.perf_counter() - started
        try:
            data = json.loads(content) if content else None
        except ValueError:
            data = content[:200].decode(errors="replace")
        return Response(status, data, seconds, None if 200 <= status < 300 else f"HTTP {status}")


def describe(response: Response) -> str:
    """One line about a failed response, for the report."""
    detail = response.data
    if isinstance(detail, dict | list):
        detail = json.dumps(detail)[:160]
    return f"{response.error}: {detail}" if detail else str(response.error)


def unavailable(response: Response) -> bool:
    """A route that doesn't exist (yet): 404 from the URL resolver, 405 from a stub view."""
    return response.status in (404, 405)
