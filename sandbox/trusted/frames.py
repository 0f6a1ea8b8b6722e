"""Frames on the side channel between the trusted runner and the learner's kernel.

A frame is a JSON header plus binary buffers, or a numbers-only frame for a test's
function called in a loop. Nothing here builds anything but JSON types and numbers.

This module is self-contained (stdlib only): its source is also sent into the learner's
kernel, before the codec's and the helper's.
"""

import json as _json
import socket as _socket
import struct as _struct
import weakref as _weakref
from typing import Any

MAX_FRAME_BYTES = 512 << 20
_PREFIX = _struct.Struct("!II")
_LENGTH = _struct.Struct("!Q")
_READ_AHEAD = 1 << 16
# Bytes read past the frame asked for, by socket (its next frame, already arrived).
_PENDING: Any = _weakref.WeakKeyDictionary()


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame or value."""


def send_frame(sock: _socket.socket, header: dict[str, Any], buffers: list[bytes]) -> None:
    if "$fast" in header:
        body = header["$fast"] + _FAST_ID.pack(header["id"]) + header["packed"]
        sock.sendall(_PREFIX.pack(len(body), _FAST) + body)
        return
    body = _json.dumps(header, separators=(",", ":")).encode()
    lengths = b"".join(_LENGTH.pack(len(b)) for b in buffers)
    sock.sendall(b"".join([_PREFIX.pack(len(body), len(buffers)), lengths, body, *buffers]))


def _recv_exact(sock: _socket.socket, size: int) -> bytes:
    """``size`` bytes, reading ahead what is already there: a small frame is one recv."""
    pending = _PENDING.get(sock)
    if pending is None:
        pending = _PENDING[sock] = bytearray()
    while len(pending) < size:
        chunk = sock.recv(min(max(size - len(pending), _READ_AHEAD), 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        pending += chunk
    data = bytes(pending[:size])
    del pending[:size]
    return data


def recv_frame(sock: _socket.socket) -> tuple[dict[str, Any], list[bytes]]:
    body_len, count = _PREFIX.unpack(_recv_exact(sock, _PREFIX.size))
    if count == _FAST:
        if body_len > _FAST_MAX_BYTES:
            raise ProtocolError("frame too large")
        return _fast_header(_recv_exact(sock, body_len)), []
    if count > 100_000:
        raise ProtocolError("too many buffers")
    lengths = [_LENGTH.unpack(_recv_exact(sock, 8))[0] for _ in range(count)]
    if body_len + sum(lengths) > MAX_FRAME_BYTES:
        raise ProtocolError("frame too large")
    try:
        header = _json.loads(_recv_exact(sock, body_len))
    except ValueError as exc:
        raise ProtocolError("header is not JSON") from exc
    if type(header) is not dict or "$fast" in header:
        raise ProtocolError("header is not an object")
    return header, [_recv_exact(sock, n) for n in lengths]


# ---------------------------------------------------------------- numbers only
# A test's function called in a loop (Newton, quadrature, an ODE right-hand side) sends
# and returns a few numbers per call: those frames skip JSON and the tagged encoding.
# ``fast_frame`` makes one; the receiver gets {"$fast": kind, "id": n, "v": value} with
# ``value`` a float, int, bool, None, or a flat tuple or list of them, nothing else.

_FAST = 0xFFFFFFFF  # the buffer count that marks a numbers-only frame
_FAST_ID = _struct.Struct("!I")
_FAST_ITEMS = 64
_FAST_MAX_BYTES = 16 + 10 * _FAST_ITEMS
_FAST_KINDS = {b"C": "call", b"K": "ok"}
_FAST_WIRE = {kind: wire for wire, kind in _FAST_KINDS.items()}
_FAST_CODES = {float: "d", int: "q", bool: "?"}
_FAST_CONTAINERS = {b"s": None, b"t": tuple, b"l": list}
_INT64 = 1 << 63


def fast_frame(kind: str, ident: int, value: Any) -> dict[str, Any] | None:
    """A numbers-only frame for ``send_frame`` (kind "call": a test function's arguments as
    a tuple; "ok": its result), or None when ``value`` is anything else."""
    container = type(value)
    if container is tuple or container is list:
        if len(value) > _FAST_ITEMS:
            return None
        items, tag = value, (b"t" if container is tuple else b"l")
    else:
        items, tag = (value,), b"s"
    codes, numbers = [], []
    for item in items:
        code = _FAST_CODES.get(type(item))
        if code is not None:
            if code == "q" and not -_INT64 <= item < _INT64:
                return None
            numbers.append(item)
        elif item is None:
            code = "x"
        else:
            return None
        codes.append(code)
    fmt = "".join(codes)
    packed = tag + bytes([len(fmt)]) + fmt.encode() + _struct.pack("!" + fmt, *numbers)
    return {"$fast": _FAST_WIRE[kind], "id": ident, "packed": packed}


def _fast_header(body: bytes) -> dict[str, Any]:
    try:
        kind = _FAST_KINDS[body[:1]]
        (ident,) = _FAST_ID.unpack_from(body, 1)
        container = _FAST_CONTAINERS[body[5:6]]
        fmt = body[7 : 7 + body[6]].decode("ascii")
        if len(fmt) != body[6] or fmt.strip("dq?x") or (container is None and len(fmt) != 1):
            raise ValueError("bad codes")
        numbers = iter(_struct.unpack("!" + fmt, body[7 + len(fmt) :]))
    except (KeyError, IndexError, ValueError, UnicodeDecodeError, _struct.error) as exc:
        raise ProtocolError("malformed numbers frame") from exc
    items = [None if code == "x" else next(numbers) for code in fmt]
    value = items[0] if container is None else container(items)
    return {"$fast": kind, "id": ident, "v": value}
