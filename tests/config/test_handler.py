"""config.handler: synchronous pages in a bounded pool of threads, event streams on the
event loop, each page's database connection given back when it is answered."""

import asyncio
from typing import Any

import pytest
from django.db import connection

from config.handler import ThreadedPagesHandler, is_async_route
from tests.config.handler_urls import gate

pytestmark = pytest.mark.urls("tests.config.handler_urls")


@pytest.fixture(autouse=True)
def fresh_gate():
    gate.__init__()
    is_async_route.cache_clear()
    yield
    gate.release.set()


async def get(app: Any, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if "body" in m)


def test_synchronous_pages_run_in_the_pools_threads_never_more_at_once() -> None:
    handler = ThreadedPagesHandler(threads=2)

    async def scenario() -> list[tuple[int, bytes]]:
        # given: five learners ask for a page at once
        pages = [asyncio.create_task(get(handler, "/held/")) for _ in range(5)]
        while gate.active < 2:  # the pool's two threads have taken one each
            await asyncio.sleep(0.01)
        # then: the other three wait their turn instead of starting threads of their own
        assert gate.active == 2
        gate.release.set()
        return await asyncio.gather(*pages)

    results = asyncio.run(scenario())
    assert results == [(200, b"page")] * 5
    assert gate.peak == 2
    assert all(name.startswith("page") for name in gate.threads)


def test_an_open_event_stream_holds_no_thread_pages_are_still_answered() -> None:
    handler = ThreadedPagesHandler(threads=1)

    async def scenario() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        gate.stream_open, gate.stream_release = asyncio.Event(), asyncio.Event()
        # given: a learner's event stream is open
        stream = asyncio.create_task(get(handler, "/stream/"))
        await gate.stream_open.wait()
        # when: a page is asked for (the pool has one thread)
        page = await get(handler, "/quick/")
        gate.stream_release.set()
        return page, await stream

    page, stream = asyncio.run(scenario())
    # then: it is answered while the stream stays open, and the stream ends as it should
    assert page == (200, b"quick")
    assert stream == (200, b"data: open\n\ndata: closed\n\n")


@pytest.mark.django_db(transaction=True)
def test_a_pages_postgresql_connection_goes_back_to_the_pool_once_it_is_answered() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite connections are kept by the page's thread")
    # A pooled PostgreSQL connection kept by an idle thread would be one fewer for the rest.
    handler = ThreadedPagesHandler(threads=1)
    assert asyncio.run(get(handler, "/database/")) == (200, b"read")
    (used,) = gate.connections
    assert used.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_page_thread_keeps_its_sqlite_connection_from_page_to_page() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL connections are kept by the pool")
    handler = ThreadedPagesHandler(threads=1)
    # when: two pages read the database, one after the other, in the pool's one thread
    assert asyncio.run(get(handler, "/database/")) == (200, b"read")
    assert asyncio.run(get(handler, "/database/")) == (200, b"read")
    # then: the second used the connection the first opened, still open
    first, second = gate.opened
    assert first is second
    (used, _) = gate.connections
    assert used.connection is first
    # and threads other than the pool's keep the setting: a connection per request
    assert connection.settings_dict["CONN_MAX_AGE"] == 0
    # the pool's thread outlives the test database: its connection is closed in it
    assert asyncio.run(get(handler, "/database/close/")) == (200, b"closed")


def test_a_streamed_download_is_sent_whole() -> None:
    handler = ThreadedPagesHandler(threads=1)
    assert asyncio.run(get(handler, "/download/")) == (200, b"part one, part two")
