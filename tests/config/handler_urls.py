"""Views to watch config.handler with: a page that waits until the test lets it finish,
an event stream that stays open until told, a page that reads the database (and one that
closes its thread's connection), a download."""

import asyncio
import threading

from django.db import connection, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path


class Gate:
    """Pages in progress, the most at once, the threads they ran in; `release` lets them end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.stream_open: asyncio.Event | None = None
        self.stream_release: asyncio.Event | None = None
        self.connections: list[object] = []
        self.opened: list[object] = []  # the database connection each page used


gate = Gate()


def held_page(request: HttpRequest) -> HttpResponse:
    with gate.lock:
        gate.active += 1
        gate.peak = max(gate.peak, gate.active)
        gate.threads.add(threading.current_thread().name)
    gate.release.wait(timeout=30)
    with gate.lock:
        gate.active -= 1
    return HttpResponse("page")


def quick_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("quick")


def database_page(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    gate.connections.append(connections["default"])  # this thread's own
    gate.opened.append(connection.connection)
    return HttpResponse("read")


def close_database(request: HttpRequest) -> HttpResponse:
    connection.close()
    return HttpResponse("closed")


def download(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"part one, ", b"part two"]))


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    assert gate.stream_open is not None and gate.stream_release is not None
    gate.stream_open.set()
    release = gate.stream_release

    async def events():
        yield "data: open\n\n"
        await release.wait()
        yield "data: closed\n\n"

    return StreamingHttpResponse(events(), content_type="text/event-stream")


urlpatterns = [
    path("held/", held_page),
    path("quick/", quick_page),
    path("database/", database_page),
    path("database/close/", close_database),
    path("download/", download),
    path("stream/", stream),
]
