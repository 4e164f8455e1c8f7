"""Request limits at the ASGI level: what every ASGI server passes through, before Django.

URLs: `URLLengthLimit` answers 414 for a path plus query string over settings.MAX_URL_BYTES.
A server refuses still longer request lines by itself (daphne: see common.daphne_edges).

Bodies: `BodySizeLimit`, below.

Django's ASGIHandler reads the whole body into memory (spooling to disk past a threshold) before
any middleware runs, so `common.middleware.RequestBodyLimitMiddleware` alone refuses an oversize
body only after receiving all of it. This wrapper refuses it first: at once when the declared
Content-Length is over the limit, and as soon as a body without one (chunked) grows past it.
The Django middleware stays for WSGI.
"""

import json

from django.conf import settings


class URLLengthLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        limit = settings.MAX_URL_BYTES
        if scope["type"] == "http" and limit is not None:
            path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
            if len(path) + len(scope.get("query_string", b"")) > limit:
                return await _refuse(send, 414, f"The URL is longer than {limit} bytes.", close=False)
        return await self.app(scope, receive, send)


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if scope["type"] != "http" or limit is None:
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            # A malformed value goes on to the Django middleware, which answers 400.
            if declared.strip().isdigit() and int(declared) > limit:
                return await _too_large(send, limit)
            return await self.app(scope, receive, send)
        # No declared length: read up to the limit ourselves, then hand the messages on.
        buffered, size = [], 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                return await _too_large(send, limit)
            if not message.get("more_body", False):
                break

        async def replay():
            return buffered.pop(0) if buffered else await receive()

        return await self.app(scope, replay, send)


async def _too_large(send, limit: int) -> None:
    await _refuse(send, 413, f"Request body is larger than {limit} bytes.")


async def _refuse(send, status: int, detail: str, *, close: bool = True) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        # The rest of the body is not read, so the connection can't be reused.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
