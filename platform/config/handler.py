"""Django under ASGI, its synchronous pages handled whole in a bounded pool of threads.

Django's own ASGI handler gives every request a thread of its own (asgiref's
ThreadSensitiveContext) and crosses between it and the event loop five times a request
(the request_started signal, into the synchronous middleware, back out to resolve the
view, into the view, response.close). A class of 200 clicking at once means 200 threads
taking turns on one GIL, each slowing all the others. Here a synchronous page goes to one
of `threads` threads (config.capacity.web_threads) and is handled there whole, by Django's
synchronous handler, as under WSGI: one crossing there, one back. Requests beyond the
threads wait their turn in arrival order. A view that waits on an outside service (an
identity provider, an LMS) holds its thread until that service's timeout.

Asynchronous views (the Server-Sent Events streams) keep Django's ASGI path: an open
stream holds no thread.

On SQLite each of the pool's threads keeps its database connection from page to page, as
a Celery worker does (config.celery): opening one costs about 1.2 ms of CPU (Django's
PRAGMAs and SQL functions), a tenth of a page, and the threads are few and live as long as
the process. PostgreSQL's connections go back to the process's pool after each page: they
are a budget shared by the host's processes.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import IO, Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import connections
from django.http import HttpResponseBase
from django.urls import Resolver404, get_resolver, set_script_prefix

from config.edge import ASGIApp

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

ASYNC_ROUTES_KEPT = 4096


class ThreadedPagesHandler(ASGIHandler):
    """Django's ASGI handler for asynchronous views; synchronous ones in a thread pool."""

    def __init__(self, *, threads: int) -> None:
        super().__init__()  # the asynchronous middleware chain, for asynchronous views
        self._pages = BaseHandler()
        self._pages.load_middleware(is_async=False)
        self._threads = ThreadPoolExecutor(
            threads, thread_name_prefix="page", initializer=keep_sqlite_connections
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_async_route(scope["path"].removeprefix(scope.get("root_path", ""))):
            await super().handle(scope, receive, send)
            return
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._threads, self._respond, scope, body_file)
            await self.send_response(response, send)
        finally:
            body_file.close()
        if response.streaming:  # a file download: closed once sent, as Django does
            await sync_to_async(response.close)()

    def _respond(self, scope: Scope, body_file: IO[bytes]) -> HttpResponseBase:
        """The whole synchronous life of a request, in one of the pool's threads."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response: HttpResponseBase
        if request is None:
            assert error_response is not None  # Django gives one or the other
            response = error_response
        else:
            response = self._pages.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
        if not response.streaming:
            # Its content is in memory: request_finished runs here, in the thread that
            # holds the request's database connection, which it gives back to the pool
            # (PostgreSQL) or keeps for the next page (SQLite).
            response.close()
        return response


def keep_sqlite_connections() -> None:
    """This thread's SQLite connections are kept open after each request (closed only when
    unusable: Django's close_old_connections runs before and after each one). Other
    threads keep the setting (a connection per request)."""
    for alias in connections:
        wrapper = connections[alias]
        if wrapper.vendor == "sqlite":
            wrapper.settings_dict = {**wrapper.settings_dict, "CONN_MAX_AGE": None}


@lru_cache(maxsize=ASYNC_ROUTES_KEPT)
def is_async_route(path: str) -> bool:
    """Whether `path` resolves to an asynchronous view (an event stream)."""
    try:
        match = get_resolver().resolve(path)
    except Resolver404:
        return False
    return iscoroutinefunction(match.func)


def application(*, threads: int) -> ASGIApp:
    """Django's ASGI application: with `threads` > 0 its synchronous pages run in a pool
    of that many threads; 0 is Django's own handler (a thread per request)."""
    if threads > 0:
        return ThreadedPagesHandler(threads=threads)
    return ASGIHandler()
