"""The web server (config.serve): uvicorn whose request heads have a deadline."""

import asyncio

import pytest
import uvicorn

from config.serve import SERVER_OPTIONS, DeadlineH11Protocol


async def hello(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def _with_server(test) -> None:
    config = uvicorn.Config(
        hello,
        host="127.0.0.1",
        port=0,
        http=DeadlineH11Protocol,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(test(server.servers[0].sockets[0].getsockname()[1]), 30)
    finally:
        server.should_exit = True
        await serving


@pytest.fixture(autouse=True)
def short_deadline(monkeypatch) -> None:
    monkeypatch.setattr(DeadlineH11Protocol, "head_timeout_s", 0.3)


def test_a_head_sent_a_byte_at_a_time_is_cut_off() -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert await reader.read() == b""  # closed by the server, not by the 30 s guard

    asyncio.run(_with_server(test))


def test_whole_requests_are_served_one_after_another() -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readuntil(b"0\r\n\r\n")  # the end of the chunked body
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        second = await reader.read()
        assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")

    asyncio.run(_with_server(test))


def test_the_server_runs_with_keep_alive_and_connection_limits() -> None:
    assert SERVER_OPTIONS[:2] == ["--http", "h11"]
    assert "--limit-concurrency" in SERVER_OPTIONS and "--timeout-keep-alive" in SERVER_OPTIONS
