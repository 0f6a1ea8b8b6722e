"""A small HTTP/1.1 server (h11 on asyncio) for the gateway's unix socket and TCP port.

ASGI servers do not hand the connection's socket to the application, and the unix socket's
peer credentials (SO_PEERCRED) are how a sandboxed caller is identified, so the gateway
speaks HTTP itself. Keep-alive and chunked streaming responses are supported.
"""

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path

import h11

from gateway.api import Request, Response, error_response
from gateway.edge import (
    ConnectionSlots,
    SlowClient,
    body_too_large,
    request_timeout,
    within_request_deadline,
)
from gateway.errors import bad_request

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]
READ_SIZE = 65536


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a unix socket, as the kernel reports it."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class TooLarge(Exception):
    pass


# Open connections, so that a stopping gateway ends idle keep-alive ones instead of leaking.
_connections: set[asyncio.Task[None]] = set()


async def close_connections() -> None:
    tasks = [t for t in _connections if t.get_loop() is asyncio.get_running_loop()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _read_request(
    conn: h11.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    max_body: int,
) -> tuple[h11.Request, bytes] | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:  # curl does, for large bodies
                writer.write(
                    conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
            conn.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_body:
                raise TooLarge
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return head, bytes(body)
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        writer.write(data)
        await writer.drain()


async def _write_response(
    conn: h11.Connection, writer: asyncio.StreamWriter, response: Response
) -> None:
    headers = [(k.encode(), v.encode()) for k, v in response.headers]
    if response.stream is None:
        headers.append((b"Content-Length", str(len(response.body)).encode()))
    reason = HTTPStatus(response.status).phrase.encode()
    await _send(
        conn, writer, h11.Response(status_code=response.status, headers=headers, reason=reason)
    )
    if response.stream is None:
        await _send(conn, writer, h11.Data(data=response.body))
    else:
        try:
            async for piece in response.stream:
                await _send(conn, writer, h11.Data(data=piece))
        finally:
            close = getattr(response.stream, "aclose", None)
            if close is not None:
                await close()
    await _send(conn, writer, h11.EndOfMessage())


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    handler: Handler,
    uid: int | None,
    max_body: int,
) -> None:
    conn = h11.Connection(h11.SERVER)
    task = asyncio.current_task()
    if task is not None:
        _connections.add(task)
    try:
        while True:
            try:
                received = await within_request_deadline(
                    _read_request(conn, reader, writer, max_body)
                )
            except (h11.RemoteProtocolError, TooLarge, SlowClient) as error:
                # A half-sent head is still buffered: h11 is IDLE until the head is whole.
                started = conn.their_state is not h11.IDLE or bool(conn.trailing_data[0])
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE) and (
                    started or not isinstance(error, SlowClient)
                ):
                    if isinstance(error, TooLarge):
                        answer = body_too_large(max_body)
                    elif isinstance(error, SlowClient):
                        answer = request_timeout()
                    else:
                        answer = bad_request("Malformed HTTP request.")
                    await _write_response(conn, writer, error_response(answer))
                return
            if received is None:
                return
            head, body = received
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in head.headers}
            request = Request(head.method.decode(), head.target.decode(), headers, body, uid)
            await _write_response(conn, writer, await handler(request))
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except (ConnectionError, h11.LocalProtocolError, asyncio.IncompleteReadError):
        return
    except asyncio.CancelledError:
        # close_connections() at shutdown: the connection task ends here, quietly (Python
        # 3.11's stream protocol logs a cancelled connection task as an error).
        return
    finally:
        _connections.discard(task)  # type: ignore[arg-type]
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def start_unix(handler: Handler, path: Path, *, max_body: int) -> asyncio.Server:
    """Listen on `path`; any local uid may connect, the grant decides what it may do."""

    slots = ConnectionSlots()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with slots.slot() as admitted:
            if not admitted:
                writer.close()
                return
            uid = peer_uid(writer.get_extra_info("socket"))
            await serve_connection(reader, writer, handler=handler, uid=uid, max_body=max_body)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)  # bind-mounted read-only into sandboxes, which run as other uids
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a stale socket from a previous run
    server = await asyncio.start_unix_server(on_connect, path=str(path))
    # Anyone may connect: the peer uid's grant, not the file mode, decides what it may do.
    os.chmod(path, 0o666)  # noqa: S103
    return server


async def start_tcp(handler: Handler, host: str, port: int, *, max_body: int) -> asyncio.Server:
    slots = ConnectionSlots()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with slots.slot() as admitted:
            if not admitted:
                writer.close()
                return
            await serve_connection(reader, writer, handler=handler, uid=None, max_body=max_body)

    return await asyncio.start_server(on_connect, host=host, port=port)
