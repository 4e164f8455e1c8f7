"""Django's HTTP handler for ASGI without the two per-request costs of the stock one.

Django's `ASGIHandler` gives every request a new `ThreadSensitiveContext`, so every request runs
its synchronous code on a thread created for it and opens a database connection of its own (the
connection is thread-local): a profile of `users/me` showed thread start and connect at ~20% of
the request. It also runs our synchronous middleware in sync mode around an async core, which
costs several hops between the event loop and the thread per request.

`DjangoHTTP` keeps everything else of Django's handler (body reading, disconnects, streaming,
signals) and changes only that:

* a fixed set of `threads` long-lived threads serves the requests of this process, each request
  on one free thread (a request waits for one when all are busy), so each thread keeps its
  database connection across requests (`CONN_MAX_AGE` applies, as under WSGI);
* the middleware chain and the view run in one go on that thread, like under WSGI.

Code on those threads is still inside asgiref's bridges, so `async_to_sync` (the channel layer
in `common.events.publish`, the health check) runs on the server's event loop as before.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse


class DjangoHTTP(ASGIHandler):
    def __init__(self, *, threads: int):
        super().__init__()
        # All our middleware and views are synchronous: one synchronous chain, entered once.
        self.load_middleware(is_async=False)
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="django-http") for _ in range(threads)
        ]
        self._free: asyncio.Queue | None = None
        self._loop = None

    def _free_executors(self) -> asyncio.Queue:
        # A queue belongs to one event loop; a server has one, tests may start several.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._free = loop, asyncio.Queue()
            for executor in self._executors:
                self._free.put_nowait(executor)
        return self._free

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        free = self._free_executors()
        executor = await free.get()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            free.put_nowait(executor)

    async def run_get_response(self, request):
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response
