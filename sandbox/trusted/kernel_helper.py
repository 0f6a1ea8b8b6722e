"""Kernel side of the side channel: answers the trusted runner's requests.

Sent into the learner's kernel through ``user_expressions``, after the sources of the
modules it imports (``helper.SOURCE``): the test's lent names are
``kernel_lending``'s, the library state tests share is ``kernel_patches``'.
It runs as the learner, so it is not trusted and need not be: everything it answers is
decoded strictly on the trusted side, so at worst it behaves like a learner's function.
Handles stay valid for the whole run: the table lives on a module in ``sys.modules``.
"""

import builtins
import contextlib
import socket
import sys
import types
from typing import Any

# Imported as part of the package (lint, tests); in the kernel the sources of these modules
# precede this one (helper.SOURCE) and there is no package to import from.
with contextlib.suppress(ImportError):
    from .codec import describe_exception, encode
    from .decoding import Decoder
    from .frames import fast_frame, recv_frame, send_frame
    from .kernel_lending import LentNames
    from .kernel_patches import LibraryPatches, set_streams
    from .printed import SILENT_OPS, Printed

STATE_MODULE = "_trusted_grading_helper"
BASE_TYPES = (int, float, str, list, tuple, dict, set, frozenset, bytes)


class _State:
    def __init__(self) -> None:
        self.objects: dict[int, Any] = {}
        self.next_id = 1
        self.session: _Session | None = None

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
        if type(value) is TestFunction:
            return {"$": "cb", "id": value._id}
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


class TestFunction:
    """A test's function, as learner code sees it: calling it asks the trusted side to run
    it. It holds no code and no globals, only the number the trusted side knows it by."""

    __slots__ = ("_id", "_name", "_session")
    __test__ = False

    def __init__(self, session: "_Session", ident: int, name: str) -> None:
        self._session = session
        self._id = ident
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call_back(self._id, list(args), kwargs)

    def __repr__(self) -> str:
        return f"<test function {self._name}>"


class _Session:
    """One serve request: the socket to the trusted side while a run of tests lasts."""

    def __init__(self, sock: socket.socket, ns: dict[str, Any], state: _State) -> None:
        self.sock, self.ns, self.state = sock, ns, state
        self.open = True
        self.printing: list[Printed] = []  # one per request being answered, innermost last
        self.encoder = _encoder(state)
        self.decoder = Decoder(
            on_handle=lambda node: state.objects[node["id"]],
            on_module=lambda node: __import__(node["name"], fromlist=["_"]),
            on_callback=self._test_function,
        )
        self.lending = LentNames(ns)
        self.patches = LibraryPatches()

    def _test_function(self, node: dict[str, Any]) -> Any:
        reference = node.get("ref")
        if type(reference) is list and len(reference) == 2:
            own = _library_function(*reference)
            if own is not None:
                return own
        name = node.get("name")
        return TestFunction(self, node["id"], name if type(name) is str else "function")

    def serve(self) -> None:
        while True:
            req, bufs = recv_frame(self.sock)
            if req.get("op") == "end":
                return
            send_frame(self.sock, *_answer(req, bufs, self))

    def call_back(self, ident: int, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Run the test's function ``ident`` on the trusted side; answer its requests
        (it may call the learner's code again) until its result comes back."""
        if not self.open:
            raise RuntimeError("a test's function can only be called while its test runs")
        bufs: list[bytes] = []
        # What the learner's code printed so far goes first: the test's function may print.
        printed = self.printing[-1].take() if self.printing else ""
        header = None if kwargs or printed else fast_frame("call", ident, tuple(args))
        if header is None:
            header = {"cb": ident, "args": self.encoder([args, kwargs], bufs)}
            if printed:
                header["out"] = printed
        try:
            return self._await_result(header, bufs)
        except (OSError, EOFError):
            self.open = False  # the test is over: later calls fail at once
            raise

    def _await_result(self, header: dict[str, Any], bufs: list[bytes]) -> Any:
        send_frame(self.sock, header, bufs)
        while True:
            reply, rbufs = recv_frame(self.sock)
            if reply.get("$fast") == "ok":
                return reply["v"]
            if "cbok" in reply:
                return self.decoder.decode(reply["cbok"], rbufs)
            if "cberr" in reply:
                raise _test_error(reply["cberr"])
            if reply.get("op") == "end":
                self.open = False
                raise RuntimeError("the test ended while its function was running")
            send_frame(self.sock, *_answer(reply, rbufs, self))

    def pull(self, names: list[str]) -> Any:
        """The values of those of ``names`` the test lends (see ``kernel_lending``)."""
        send_frame(self.sock, {"pull": names}, [])
        reply, bufs = recv_frame(self.sock)
        return self.decoder.decode(reply.get("lent"), bufs)


def _library_function(module: Any, qualname: Any) -> Any:
    """This kernel's own copy of a library function the test passed (``numpy.sin``)."""
    if type(module) is not str or type(qualname) is not str:
        return None
    try:
        value: Any = __import__(module, fromlist=["_"])
        for part in qualname.split("."):
            value = getattr(value, part)
    except Exception:
        return None
    return value if callable(value) else None


def _test_error(err: Any) -> BaseException:
    """The test function's exception, as the nearest builtin type with its message."""
    message = err.get("message") if type(err) is dict else None
    message = message if type(message) is str else ""
    chain = err.get("mro") if type(err) is dict else None
    for entry in chain if type(chain) is list else []:
        if type(entry) is list and len(entry) == 2 and entry[0] == "builtins":
            kind = getattr(builtins, str(entry[1]), None)
            if isinstance(kind, type) and issubclass(kind, Exception):
                with contextlib.suppress(Exception):
                    return kind(message)
    return RuntimeError(message)


def serve(path: str, ns: dict[str, Any]) -> None:
    """Answer requests on the unix socket at ``path`` until told to stop."""
    state = _state()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    session = _Session(sock, ns, state)
    state.session = session
    try:
        session.serve()
    except (OSError, EOFError):
        return
    finally:
        session.open = False
        session.lending.give_all_back()
        session.patches.unpatch_all()
        sock.close()


def _answer(
    req: dict[str, Any], bufs: list[bytes], session: _Session
) -> tuple[dict[str, Any], list[bytes]]:
    """The answer to ``req``, with the text the learner's code printed meanwhile."""
    printed = Printed()
    session.printing.append(printed)
    try:
        with contextlib.redirect_stdout(printed):
            reply, out = _answer_printing(req, bufs, session)
    finally:
        session.printing.pop()
    text = printed.take()
    if text and req.get("op") not in SILENT_OPS:
        reply["out"] = text
    return reply, out


def _answer_printing(
    req: dict[str, Any], bufs: list[bytes], session: _Session
) -> tuple[dict[str, Any], list[bytes]]:
    try:
        args = session.decoder.decode(req.get("args", []), bufs)
        if type(req.get("rng")) is dict:
            set_streams(req["rng"], bufs)
        if "patch" in req:
            session.patches.patch(req["patch"], lambda node: session.decoder.decode(node, bufs))
        if "lent" in req:
            target = session.state.objects[req["h"]] if "h" in req else None
            session.lending.borrow(req["lent"], target, session.pull)
        elif req.get("op") in ("setglobal", "delglobal"):
            session.lending.keep(str(req["name"]))
        value = _dispatch(req, args, session.ns, session.state)
        out: list[bytes] = []
        reply = {"ok": session.encoder(value, out)}
        if req.get("op") == "call":
            reply["after"] = _after_call(args, session.encoder, out)
        return reply, out
    except StopIteration as exc:
        if req.get("op") == "next":
            return {"stop": True}, []
        return {"err": describe_exception(exc)}, []
    except BaseException as exc:  # the learner's code may raise anything, SystemExit included
        return {"err": describe_exception(exc)}, []
