"""Kernel side of the side channel: answers the trusted runner's requests.

Sent into the learner's kernel (after the codec's source) through ``user_expressions``.
It runs as the learner, so it is not trusted and need not be: everything it answers is
decoded strictly on the trusted side, so at worst it behaves like a learner's function.
Handles stay valid for the whole run: the table lives on a module in ``sys.modules``.
"""

import contextlib
import socket
import sys
import types
from typing import Any

# Imported as part of the package (lint, tests); in the kernel the codec's source precedes
# this one and there is no package to import from.
with contextlib.suppress(ImportError):
    from .codec import Decoder, encode, recv_frame, send_frame

STATE_MODULE = "_trusted_grading_helper"
BASE_TYPES = (int, float, str, list, tuple, dict, set, frozenset, bytes)


class _State:
    def __init__(self) -> None:
        self.objects: dict[int, Any] = {}
        self.next_id = 1

    def keep(self, value: Any) -> int:
        handle = self.next_id
        self.next_id += 1
        self.objects[handle] = value
        return handle


def _state() -> _State:
    module = sys.modules.get(STATE_MODULE)
    if module is None or not isinstance(getattr(module, "state", None), _State):
        module = types.ModuleType(STATE_MODULE)
        module.state = _State()  # type: ignore[attr-defined]
        sys.modules[STATE_MODULE] = module
    return module.state


def _rebased(value: Any) -> Any:
    """A builtin-subclass value (namedtuple, Counter, IntEnum...) as its plain base value."""
    for base, convert in (
        (bool, bool),
        (int, int.__int__),
        (float, float.__float__),
        (str, str.__str__),
        (list, list.copy),
        (dict, dict.copy),
        (tuple, tuple),
        (set, set),
        (frozenset, frozenset),
    ):
        if isinstance(value, base):
            return convert(value)
    return None


def _encoder(state: _State) -> Any:
    def fallback(value: Any) -> Any:
        if isinstance(value, types.ModuleType):
            return {"$": "m", "name": str(value.__name__), "id": state.keep(value)}
        if isinstance(value, BASE_TYPES) and type(value) not in BASE_TYPES:
            plain = _rebased(value)
            if type(plain) in BASE_TYPES or type(plain) is bool:
                return encode(plain, bufs_holder[0], fallback)
        node = {"$": "h", "id": state.keep(value), "type": type(value).__name__[:100]}
        if callable(value) and not isinstance(value, type):
            # Lets the trusted side use its own copy of a library's function or class.
            origin = [getattr(value, "__module__", None), getattr(value, "__qualname__", None)]
            if all(isinstance(o, str) for o in origin):
                node["origin"] = origin
        return node

    bufs_holder: list[list[bytes]] = [[]]

    def run(value: Any, bufs: list[bytes]) -> Any:
        bufs_holder[0] = bufs
        return encode(value, bufs, fallback)

    return run


def _mutable(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return type(value) in (list, dict, set, bytearray) or (
        numpy is not None and type(value) is numpy.ndarray
    )


def _after_call(args: list[Any], encoder: Any, bufs: list[bytes]) -> list[Any]:
    """The state of the test's mutable arguments after the call: the test sees mutations."""
    after: list[Any] = [["p", i, encoder(a, bufs)] for i, a in enumerate(args[0]) if _mutable(a)]
    after += [["k", k, encoder(a, bufs)] for k, a in args[1].items() if _mutable(a)]
    return after


def _describe(exc: BaseException) -> dict[str, Any]:
    chain = []
    for klass in type(exc).__mro__:
        chain.append([str(getattr(klass, "__module__", "")), str(getattr(klass, "__name__", ""))])
    try:
        message = str(exc)[:2000]
    except BaseException:  # a learner's __str__ may raise anything
        message = "<unprintable exception>"
    return {"mro": chain[:50], "message": message}


def _dispatch(req: dict[str, Any], args: list[Any], ns: dict[str, Any], state: _State) -> Any:
    op = req["op"]
    target: Any = state.objects[req["h"]] if "h" in req else None
    if op == "resolve":
        if req["name"] not in ns:
            raise NameError(f"name {req['name']!r} is not defined")
        return ns[req["name"]]
    if op == "call":
        return target(*args[0], **args[1])
    if op == "getattr":
        return getattr(target, req["name"])
    if op == "setattr":
        return setattr(target, req["name"], args[0])
    if op == "delattr":
        return delattr(target, req["name"])
    if op == "getitem":
        return target[args[0]]
    if op == "setitem":
        target[args[0]] = args[1]
        return None
    if op == "delitem":
        del target[args[0]]
        return None
    return _dispatch_more(op, req, args, ns, state, target)


def _dispatch_more(
    op: str, req: dict[str, Any], args: list[Any], ns: dict[str, Any], state: _State, target: Any
) -> Any:
    if op == "len":
        return len(target)
    if op == "iter":
        return iter(target)  # an iterator is never plain data
    if op == "next":
        return next(target)
    if op == "repr":
        return repr(target)[:100_000]
    if op == "str":
        return str(target)[:100_000]
    if op == "array":
        import numpy

        return numpy.asarray(target)
    if op == "setglobal":
        ns[req["name"]] = args[0]
        return None
    if op == "delglobal":
        if req["name"] not in ns:
            raise NameError(f"name {req['name']!r} is not defined")
        del ns[req["name"]]
        return None
    if op == "release":
        for handle in req["ids"]:
            state.objects.pop(handle, None)
        return None
    raise ValueError(f"unknown operation {op!r}")


def serve(path: str, ns: dict[str, Any]) -> None:
    """Answer requests on the unix socket at ``path`` until told to stop."""
    state = _state()
    encoder = _encoder(state)
    decoder = Decoder(
        on_handle=lambda node: state.objects[node["id"]],
        on_module=lambda node: __import__(node["name"], fromlist=["_"]),
    )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    try:
        while True:
            req, bufs = recv_frame(sock)
            if req.get("op") == "end":
                return
            send_frame(sock, *_answer(req, bufs, ns, state, encoder, decoder))
    except (OSError, EOFError):
        return
    finally:
        sock.close()


def _answer(
    req: dict[str, Any],
    bufs: list[bytes],
    ns: dict[str, Any],
    state: _State,
    encoder: Any,
    decoder: Any,
) -> tuple[dict[str, Any], list[bytes]]:
    try:
        args = decoder.decode(req.get("args", []), bufs)
        value = _dispatch(req, args, ns, state)
        out: list[bytes] = []
        reply = {"ok": encoder(value, out)}
        if req.get("op") == "call":
            reply["after"] = _after_call(args, encoder, out)
        return reply, out
    except StopIteration as exc:
        if req.get("op") == "next":
            return {"stop": True}, []
        return {"err": _describe(exc)}, []
    except BaseException as exc:  # the learner's code may raise anything, SystemExit included
        return {"err": _describe(exc)}, []
