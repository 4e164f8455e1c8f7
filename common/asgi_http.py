"""Django's HTTP handler for ASGI without the per-request costs of the stock one.

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
* the middleware chain and the view run in one go on that thread, like under WSGI;
* so do the request's signals: stock Django hops to the thread three times per request
  (`request_started`'s receivers, then the view, then `response.close()` with
  `request_finished`'s), and each hop wakes a thread and the event loop in turn, which on this
  kind of machine costs more than the floor view itself (docs/bench.md, "One hop per request").
  Here `request_started`, the view and, for a response whose body is already built, its
  `close()` run in one hop; the database connection goes back to the pool before the response
  is sent, as soon as nothing of the request can use it. A streaming response is closed after
  it is sent, as Django does, or when its view returns if the client has gone by then.

Code on those threads is still inside asgiref's bridges, so `async_to_sync` (the channel layer
in `common.events.publish`, the health check) runs on the server's event loop as before.
"""

import asyncio
import contextlib
import functools
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

logger = logging.getLogger(__name__)


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
                await self.handle(scope, receive, send, executor=executor)
        finally:
            free.put_nowait(executor)

    async def handle(self, scope, receive, send, *, executor):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        serving = asyncio.create_task(self._serve(scope, body_file, send, executor))
        # A client that goes away stops the wait (and a streaming body), as in Django's handler;
        # the view itself, on its thread, runs to its end either way.
        watching = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait((serving, watching), return_when=asyncio.FIRST_COMPLETED)
            if not serving.done():
                serving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serving
                if not isinstance(watching.exception(), RequestAborted):
                    watching.result()  # an ASGI message that has no business here: raise it
                return
            serving.result()
        finally:
            watching.cancel()
            body_file.close()

    async def _serve(self, scope, body_file, send, executor):
        responding = asyncio.ensure_future(
            sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
        )
        try:
            response = await asyncio.shield(responding)
        except asyncio.CancelledError:
            # The client left while the view ran on its thread: a streaming response it returns
            # is never sent, so close it (request_finished) there once it is returned.
            responding.add_done_callback(functools.partial(_close_unsent, executor))
            raise
        try:
            await self.send_response(response, send)
        finally:
            if response.streaming:
                await sync_to_async(response.close)()

    def _respond(self, scope, body_file):
        """On the request's thread: everything synchronous the request needs, in one go."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()  # request_finished: the body is built, nothing reads the request now
        return response


def _close_unsent(executor, responding: asyncio.Future) -> None:
    if responding.cancelled():
        return
    if responding.exception() is not None:  # nobody awaits it any more: say it, don't drop it
        logger.error("a request whose client had left failed", exc_info=responding.exception())
        return
    response = responding.result()
    if response.streaming:
        # On the view's own thread, after it (so request_finished closes that thread's
        # connection); the request's ThreadSensitiveContext has exited by now.
        closing = asyncio.get_running_loop().run_in_executor(executor, response.close)
        closing.add_done_callback(_log_failure)


def _log_failure(closing: asyncio.Future) -> None:
    if not closing.cancelled() and closing.exception() is not None:
        logger.error("closing an unsent streaming response failed", exc_info=closing.exception())
