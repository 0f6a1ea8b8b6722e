"""The gateway server's edge: slow clients, too many connections, too large or deep bodies."""

import asyncio
import json

import pytest

from gateway.api import Request, Response, json_response
from gateway.errors import ApiError
from gateway.httpserver import start_tcp
from gateway.parsing import json_body


async def echo(request: Request) -> Response:
    return json_response(200, {"bytes": len(request.body)})


async def _served(test, *, max_body: int = 1000) -> None:
    server = await start_tcp(echo, "127.0.0.1", 0, max_body=max_body)
    port = server.sockets[0].getsockname()[1]
    try:
        await asyncio.wait_for(test(port), 30)  # a failure guard, not a measure
    finally:
        server.close()


def run(test, **kwargs) -> None:
    asyncio.run(_served(test, **kwargs))


@pytest.fixture(autouse=True)
def quick_limits(settings) -> None:
    settings.GATEWAY_REQUEST_TIMEOUT_S = 0.3
    settings.GATEWAY_MAX_CONNECTIONS = 2


def test_a_request_head_sent_slowly_is_answered_408_and_closed() -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /v1/embeddings HTTP/1.1\r\nHost: g\r\n")  # and never the rest
        answer = await reader.read()  # until the server closes
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"did not arrive within" in answer

    run(test)


def test_a_body_sent_slowly_is_answered_408() -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nHost: g\r\nContent-Length: 100\r\n\r\n{")
        assert (await reader.read()).startswith(b"HTTP/1.1 408 ")

    run(test)


def test_an_idle_connection_is_closed_without_an_answer() -> None:
    async def test(port: int) -> None:
        reader, _writer = await asyncio.open_connection("127.0.0.1", port)
        assert await reader.read() == b""

    run(test)


def test_a_body_over_the_limit_is_413() -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nHost: g\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
        answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_too_large"

    run(test)


def test_connections_past_the_limit_are_closed_at_once_and_the_rest_served(settings) -> None:
    settings.GATEWAY_REQUEST_TIMEOUT_S = 60  # the held ones cannot time out in this test

    async def test(port: int) -> None:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        for _reader, writer in held:
            writer.write(b"GET /x HTTP/1.1\r\nHost: g\r\n")  # half-sent: holds its slot
            await writer.drain()
        reader, _writer = await asyncio.open_connection("127.0.0.1", port)
        assert await reader.read() == b""  # closed by the limit (the timeout is a minute)
        for _reader, writer in held:
            writer.close()
            await writer.wait_closed()
        for _attempt in range(100):  # until the server has seen them close
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /x HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            if answer:
                break
            await asyncio.sleep(0.01)
        assert answer.startswith(b"HTTP/1.1 200 ")

    run(test)


def test_json_nested_too_deep_is_a_400_not_a_recursion_error() -> None:
    with pytest.raises(ApiError) as error:
        json_body(b"[" * 100_000 + b"]" * 100_000)
    assert error.value.status == 400 and "nested more than 64" in error.value.message
