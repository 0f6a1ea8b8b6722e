"""Frames on the side channel between the trusted runner and the learner's kernel.

A frame is a JSON header plus binary buffers, or a numbers-only frame for a test's
function called in a loop. Nothing here builds anything but JSON types and numbers.

This module is self-contained (stdlib only): its source is also sent into the learner's
kernel, before the codec's and the helper's.
"""

import contextlib as _contextlib
import json as _json
import os as _os
import socket as _socket
import struct as _struct
import time as _time
import weakref as _weakref
from typing import Any

MAX_FRAME_BYTES = 512 << 20
_PREFIX = _struct.Struct("!II")
_LENGTH = _struct.Struct("!Q")
_READ_AHEAD = 1 << 16
# How long a reader polls before it sleeps, when a CPU is free. A test's function called in
# a loop gets its answer within tens of microseconds: polling meanwhile keeps this CPU
# awake, where sleeping costs a wake-up per call (tens of microseconds more on a virtual
# machine whose idle CPUs halt). On a busy machine sleeping is better: a woken process gets
# a CPU sooner than a polling one that used up its share. When polling does not pay (the
# other side shares this CPU, or is slow to answer), the next waits sleep at once.
SPIN_NS = 50_000
SLEEPS_AFTER_A_VAIN_SPIN = 100


class _Inbox:
    """One socket's bytes read past the frame asked for (its next frames, already arrived),
    and whether waiting on it polls before sleeping."""

    __slots__ = ("pending", "polls", "sleeps")

    def __init__(self) -> None:
        self.pending = bytearray()
        self.polls = _free_cpu()
        self.sleeps = 0  # waits left that sleep at once, after a spin that did not pay

    def poll(self, sock: _socket.socket, size: int) -> bytes | None:
        """What arrives while polling for up to SPIN_NS, if polling pays (None: sleep)."""
        if not self.polls:
            return None
        if self.sleeps:
            self.sleeps -= 1
            return None
        chunk = _read_now(sock, size)
        deadline = _time.perf_counter_ns() + SPIN_NS
        while chunk is None and _time.perf_counter_ns() < deadline:
            _os.sched_yield()
            chunk = _read_now(sock, size)
        if chunk is None or _time.perf_counter_ns() > deadline:
            self.sleeps = SLEEPS_AFTER_A_VAIN_SPIN
        return chunk


_INBOXES: Any = _weakref.WeakKeyDictionary()


def _free_cpu() -> bool:
    """Whether this machine likely has an idle CPU (fewer runnable processes than CPUs)."""
    try:
        return _os.getloadavg()[0] < (_os.cpu_count() or 1)
    except OSError:
        return False


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame or value."""


def send_frame(sock: _socket.socket, header: dict[str, Any], buffers: list[bytes]) -> None:
    if "$fast" in header:
        _send_all(sock, header["frame"])
        return
    body = _json.dumps(header, separators=(",", ":")).encode()
    lengths = b"".join(_LENGTH.pack(len(b)) for b in buffers)
    _send_all(sock, b"".join([_PREFIX.pack(len(body), len(buffers)), lengths, body, *buffers]))


def _send_all(sock: _socket.socket, data: bytes) -> None:
    sent = 0
    if sock.gettimeout():
        # A socket with a timeout is non-blocking underneath: a frame that fits in the
        # socket's buffer goes in one write, without the poll that sendall makes first.
        with _contextlib.suppress(BlockingIOError):
            sent = _os.write(sock.fileno(), data)
        if sent == len(data):
            return
    sock.sendall(memoryview(data)[sent:])


def _read_now(sock: _socket.socket, size: int) -> bytes | None:
    """What has arrived on ``sock``, up to ``size`` bytes, without waiting (None: nothing)."""
    try:
        if sock.gettimeout() is None:
            return sock.recv(size, _socket.MSG_DONTWAIT)
        return _os.read(sock.fileno(), size)  # non-blocking underneath: no poll first
    except BlockingIOError:
        return None


def _read(sock: _socket.socket, inbox: _Inbox, size: int) -> bytes:
    chunk = inbox.poll(sock, size)
    if chunk is None:
        chunk = sock.recv(size)  # sleeps until something comes (or the socket's timeout)
    if not chunk:
        raise EOFError("the other side closed the channel")
    return chunk


def _recv_exact(sock: _socket.socket, size: int) -> bytes:
    """``size`` bytes, reading ahead what is already there: a small frame is one read."""
    inbox = _INBOXES.get(sock)
    if inbox is None:
        inbox = _INBOXES[sock] = _Inbox()
    pending = inbox.pending
    while len(pending) < size:
        pending += _read(sock, inbox, min(max(size - len(pending), _READ_AHEAD), 1 << 20))
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
# Body: kind (1 byte), id (4), container tag (1), count (1), type codes, the numbers.

_FAST = 0xFFFFFFFF  # the buffer count that marks a numbers-only frame
_FAST_ID = _struct.Struct("!I")
_FAST_ITEMS = 64
_FAST_MAX_BYTES = 16 + 10 * _FAST_ITEMS
_FAST_KINDS = {b"C": "call", b"K": "ok"}
_FAST_WIRE = {kind: wire for wire, kind in _FAST_KINDS.items()}
_FAST_CODES = {float: "d", int: "q", bool: "?"}
_FAST_CONTAINERS = {b"s": None, b"t": tuple, b"l": list}
_INT64 = 1 << 63
# The usual frames, a function of one float and its float result, packed in one step.
_ONE_FLOAT = _struct.Struct("!IIcIcBcd")
_ONE_FLOAT_BODY = _struct.Struct("!cIcBcd")


def fast_frame(kind: str, ident: int, value: Any) -> dict[str, Any] | None:
    """A numbers-only frame for ``send_frame`` (kind "call": a test function's arguments as
    a tuple; "ok": its result), or None when ``value`` is anything else."""
    container = type(value)
    if container is float or (container is tuple and len(value) == 1 and type(value[0]) is float):
        tag, number = (b"s", value) if container is float else (b"t", value[0])
        frame = _ONE_FLOAT.pack(16, _FAST, _FAST_WIRE[kind], ident, tag, 1, b"d", number)
        return {"$fast": _FAST_WIRE[kind], "frame": frame}
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
    body = (
        _FAST_WIRE[kind]
        + _FAST_ID.pack(ident)
        + tag
        + bytes([len(fmt)])
        + fmt.encode()
        + _struct.pack("!" + fmt, *numbers)
    )
    return {"$fast": _FAST_WIRE[kind], "frame": _PREFIX.pack(len(body), _FAST) + body}


def _fast_header(body: bytes) -> dict[str, Any]:
    if len(body) == 16 and body[5:8] in (b"s\x01d", b"t\x01d"):
        wire, ident, tag, _, _, number = _ONE_FLOAT_BODY.unpack(body)
        if wire in _FAST_KINDS:
            value = number if tag == b"s" else (number,)
            return {"$fast": _FAST_KINDS[wire], "id": ident, "v": value}
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
