"""Trusted side of the side channel: the link to the kernel, proxies and test globals.

Test code sees the learner's values as plain data (decoded strictly) or as ``Remote``
handles. Calls, attribute and item access, ``len``, iteration, ``repr`` and ``__array__``
go to the kernel; ``==``, ordering, ``hash``, ``bool``, arithmetic and ``in`` never do,
so a learner object cannot lie its way through a comparison.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

from .codec import Decoder, ProtocolError, encode, recv_frame, send_frame
from .functions import TestFunctions

# A learner's name for one of these modules resolves to the trusted side's own copy (a
# patched or fake module in the kernel changes nothing). Only modules whose functions are
# safe to run here on the learner's data: never pickle, os, subprocess and the like.
DATA_MODULES = frozenset(
    {
        "numpy",
        "pandas",
        "scipy",
        "math",
        "cmath",
        "statistics",
        "random",
        "itertools",
        "functools",
        "collections",
        "operator",
        "re",
        "string",
        "json",
        "datetime",
        "decimal",
        "fractions",
        "numbers",
        "unittest",
        "heapq",
        "bisect",
        "textwrap",
        "difflib",
        "nose",
        "typing",
        "dataclasses",
        "enum",
        "copy",
    }
)
# A learner's FUNCTION claiming to be one of these assert helpers is replaced by the trusted
# original: faking ``__module__`` only ever gets the genuine one. Functions only, from
# modules whose functions return plain values or raise: a trusted class could hand back
# an object with a permissive ``__eq__`` (``unittest.mock.ANY``), which a proxy never is.
HELPER_MODULES = ("numpy.testing", "pandas.testing", "pandas._testing", "nose.tools")
NUMPY_HELPERS = frozenset({"allclose", "isclose", "array_equal", "array_equiv"})


def trusted_module_name(name: str) -> bool:
    # Public modules only: importing ``unittest.__main__`` would run something.
    parts = name.split(".")
    return parts[0] in DATA_MODULES and not any(p.startswith("_") for p in parts)


def library_reference(function: Any) -> list[str] | None:
    """``[module, qualname]`` of a public function of a data library or of the builtins:
    the kernel calls its own copy (``np.sin`` costs no round trip per call). The kernel
    gets nothing it does not already have."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if type(module) is not str or type(qualname) is not str:
        return None
    if module != "builtins" and not trusted_module_name(module):
        return None
    if any(not part.isidentifier() or part.startswith("_") for part in qualname.split(".")):
        return None
    try:
        value: Any = importlib.import_module(module)
        for part in qualname.split("."):
            value = getattr(value, part)
    except Exception:
        return None
    return [module, qualname] if value is function else None


def trusted_helper_name(module: str, qualname: str) -> bool:
    if module == "numpy":
        return qualname in NUMPY_HELPERS
    return any(module == m or module.startswith(m + ".") for m in HELPER_MODULES)


# Attributes probed by Python and numpy internals: answering them locally keeps
# `copy`, `pickle` and `numpy.asarray` from running learner code by accident.
REMOTE_DUNDERS = frozenset(
    {
        "__name__",
        "__qualname__",
        "__dict__",
        "__defaults__",
        "__kwdefaults__",
        "__annotations__",
        "__wrapped__",
        "__self__",
        "__func__",
        "__code__",
    }
)
# Requests that may run the learner's code: they say which names the test lends.
RUNS_LEARNER_CODE = frozenset(
    {"call", "getattr", "setattr", "getitem", "setitem", "len", "iter", "next", "repr", "str"}
)
NEVER_CROSS = frozenset({"SystemExit", "KeyboardInterrupt", "GeneratorExit"})
# Raised by a call, these would silently end the test's own loops (``all(map(f, xs))``).
ONLY_FROM_NEXT = frozenset({"StopIteration", "StopAsyncIteration"})


class KernelUnavailable(RuntimeError):
    """The learner's kernel cannot answer (it died, hung, or never connected)."""


class KernelLink:
    """One connection to the kernel helper; requests are strictly sequential."""

    def __init__(self, *, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.sock: socket.socket | None = None
        self.broken: str | None = "your notebook's kernel is not connected"
        self.functions = TestFunctions()
        self.decoder = Decoder(
            on_handle=self._handle, on_module=self._module, on_callback=self.functions.lookup
        )
        self.generation = 0  # changes whenever the kernel may have run the learner's code
        self.depth = 0  # test functions running for the learner's code, one inside another
        # Names the test lends to learner code (name -> version) and how to get their values.
        self.lent: dict[str, int] = {}
        self.lend: Callable[[Any, list[bytes]], dict[str, Any]] | None = None

    def attach(self, sock: socket.socket) -> None:
        sock.settimeout(self.timeout_s)
        self.sock, self.broken = sock, None
        self.generation += 1  # answer cells ran in between

    def detach(self) -> None:
        if self.sock is not None and self.broken is None:
            with contextlib.suppress(OSError):
                send_frame(self.sock, {"op": "end"}, [])
        if self.sock is not None:
            self.sock.close()
        self.sock, self.broken = None, "your notebook's kernel is not connected"

    def request(self, op: str, *args: Any, **fields: Any) -> Any:
        if self.sock is None or self.broken:
            raise learner_error(KernelUnavailable, self.broken or "kernel not connected")
        if op != "resolve":
            self.generation += 1
        bufs: list[bytes] = []
        header = {"op": op, "args": self.encode(list(args), bufs), **fields}
        if op in RUNS_LEARNER_CODE:
            header["lent"] = self.lent
        try:
            send_frame(self.sock, header, bufs)
            reply, rbufs = self._receive(self.sock)
        except TimeoutError:
            self.broken = "your code took too long to answer a test"
            raise learner_error(TimeoutError, self.broken) from None
        except (OSError, EOFError, ProtocolError) as exc:
            self.broken = f"your notebook's kernel stopped answering ({type(exc).__name__})"
            raise learner_error(KernelUnavailable, self.broken) from None
        except BaseException as exc:
            if self.broken and getattr(exc, "from_learner", False) is True:
                raise  # a request made by a test's function already said what went wrong
            # The test's time ran out while the kernel was busy: a late answer would be
            # read as the next one's, so this connection is done.
            self.broken = "your code took too long to answer a test"
            raise learner_error(TimeoutError, self.broken) from None
        return self._reply(op, reply, rbufs, args)

    def encode(self, value: Any, bufs: list[bytes]) -> Any:
        return encode(value, bufs, self._to_kernel)

    def _receive(self, sock: socket.socket) -> tuple[dict[str, Any], list[bytes]]:
        """The answer to the request just sent, running the test's functions that the
        learner's code calls meanwhile (they may make requests of their own)."""
        while True:
            reply, bufs = recv_frame(sock)
            if "cb" in reply or reply.get("$fast") == "call":
                answer, out = self.functions.run(reply, bufs, self)
            elif "pull" in reply and self.lend is not None:
                out = []
                answer = self.lend(reply["pull"], out)
            else:
                return reply, bufs
            send_frame(sock, answer, out)

    def _to_kernel(self, value: Any) -> Any:
        if isinstance(value, Remote):
            return {"$": "h", "id": object.__getattribute__(value, "_id")}
        if isinstance(value, type(builtins)):
            return {"$": "m", "name": value.__name__}
        if callable(value):
            return self.functions.node(value, library_reference(value))
        raise TypeError(f"a {type(value).__name__} from the test cannot be passed to the notebook")

    def _reply(
        self, op: str, reply: dict[str, Any], bufs: list[bytes], args: tuple[Any, ...]
    ) -> Any:
        if "ok" in reply:
            try:
                value = self.decoder.decode(reply["ok"], bufs)
                if op == "call" and type(reply.get("after")) is list:
                    self._sync_arguments(reply["after"], bufs, args)
            except ProtocolError as exc:
                raise learner_error(TypeError, f"a value could not be read: {exc}") from None
            return value
        if reply.get("stop") is True and op == "next":
            raise StopIteration
        if type(reply.get("err")) is dict:
            raise rebuild_exception(reply["err"])
        raise learner_error(KernelUnavailable, "the kernel sent a malformed answer")

    def _sync_arguments(self, after: list[Any], bufs: list[bytes], args: tuple[Any, ...]) -> None:
        """Mutations the learner's function made to the test's arguments, as in a kernel."""
        positional, keywords = args
        for entry in after:
            if type(entry) is not list or len(entry) != 3:
                raise ProtocolError("malformed argument state")
            kind, key, node = entry
            if kind == "p" and type(key) is int and 0 <= key < len(positional):
                _update_in_place(positional[key], self.decoder.decode(node, bufs))
            elif kind == "k" and type(key) is str and key in keywords:
                _update_in_place(keywords[key], self.decoder.decode(node, bufs))

    def _handle(self, node: dict[str, Any]) -> Any:
        origin = node.get("origin")
        if type(origin) is list and len(origin) == 2 and all(type(o) is str for o in origin):
            trusted = trusted_object(origin[0], origin[1])
            if trusted is not None:
                return trusted
        kind = node.get("type")
        return Remote(self, node["id"], kind if type(kind) is str else "object")

    def _module(self, node: dict[str, Any]) -> Any:
        name = node["name"]
        if trusted_module_name(name):
            try:
                return importlib.import_module(name)
            except ImportError:
                pass
        if type(node.get("id")) is not int:
            raise ProtocolError("module without a handle")
        return Remote(self, node["id"], "module")


def trusted_object(module_name: str, qualname: str) -> Any:
    """The trusted side's own ``module.qualname`` (a plain function), if there is one."""
    if not trusted_helper_name(module_name, qualname) or "<" in qualname:
        return None
    try:
        value: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            value = getattr(value, part)
    except Exception:
        return None
    # numpy's functions are dispatcher objects, not FunctionType; classes are never wanted.
    return value if callable(value) and not isinstance(value, type) else None


def _update_in_place(original: Any, new: Any) -> None:
    kind = type(original)
    if (kind, type(new)) in ((list, list), (bytearray, bytes)):
        original[:] = new
    elif (kind, type(new)) in ((dict, dict), (set, set)):
        original.clear()
        original.update(new)
    elif _writable_array_like(original, new):
        original[...] = new


def _writable_array_like(original: Any, new: Any) -> bool:
    kind = type(original)
    if kind.__name__ != "ndarray" or kind.__module__ != "numpy" or type(new) is not kind:
        return False
    return bool(new.shape == original.shape and original.flags.writeable)


def learner_error(kind: type[BaseException], message: str) -> BaseException:
    exc = kind(message)
    exc.from_learner = True  # type: ignore[attr-defined]
    return exc


def rebuild_exception(err: dict[str, Any]) -> BaseException:
    """The nearest trusted exception type for the learner's exception, with its message.

    Along the class's bases: a data library's own exception (``numpy.linalg.LinAlgError``,
    ``pandas.errors.ParserError``), else a builtin one. Only a type and a message cross.
    """
    message = err.get("message")
    message = message[:2000] if type(message) is str else ""
    chain = err.get("mro")
    for entry in chain if isinstance(chain, list) else []:
        if type(entry) is not list or len(entry) != 2 or not all(type(e) is str for e in entry):
            continue
        module, name = entry
        if module == "builtins" and name in NEVER_CROSS:
            return learner_error(RuntimeError, f"your code tried to stop the kernel ({name})")
        if module == "builtins" and name in ONLY_FROM_NEXT:
            return learner_error(RuntimeError, f"your code raised {name}")
        rebuilt = _trusted_exception(module, name, message)
        if rebuilt is not None:
            return rebuilt
    return learner_error(RuntimeError, message)


def _trusted_exception(module: str, name: str, message: str) -> BaseException | None:
    if module == "builtins":
        candidate = getattr(builtins, name, None)
    elif trusted_module_name(module) and name.isidentifier():
        try:
            candidate = getattr(importlib.import_module(module), name, None)
        except Exception:
            return None
    else:
        return None
    if not isinstance(candidate, type) or not issubclass(candidate, Exception):
        return None
    if candidate.__name__ in ONLY_FROM_NEXT:
        return None
    try:
        return learner_error(candidate, message)
    except Exception:  # e.g. UnicodeDecodeError needs more arguments
        return None


class Remote:
    """A handle to an object living in the learner's kernel."""

    __slots__ = ("_id", "_link", "_type")

    def __init__(self, link: KernelLink, handle: int, type_name: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_type", type_name)

    def _ask(self, op: str, *args: Any, **fields: Any) -> Any:
        link = object.__getattribute__(self, "_link")
        return link.request(op, *args, h=object.__getattribute__(self, "_id"), **fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in REMOTE_DUNDERS:
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("setattr", value, name=name)

    def __delattr__(self, name: str) -> None:
        self._ask("delattr", name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask("call", list(args), kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._ask("setitem", key, value)

    def __delitem__(self, key: Any) -> None:
        self._ask("delitem", key)

    def __len__(self) -> int:
        size = self._ask("len")
        if type(size) is not int or size < 0:
            raise learner_error(TypeError, "len() of your object is not a valid length")
        return size

    def __iter__(self) -> Iterator[Any]:
        iterator = self._ask("iter")
        if not isinstance(iterator, Remote):
            raise learner_error(TypeError, "your object's iterator is not an iterator")
        return _RemoteIterator(iterator)

    def __next__(self) -> Any:
        return self._ask("next")  # a learner's generator: next(gen) in a test

    def __bool__(self) -> bool:
        return True  # never delegated: a learner object cannot decide a test's truth

    def __repr__(self) -> str:
        text = self._ask("repr")
        return text if type(text) is str else f"<{object.__getattribute__(self, '_type')}>"

    def __str__(self) -> str:
        text = self._ask("str")
        return text if type(text) is str else repr(self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        array = self._ask("array")
        return array.astype(dtype) if dtype is not None else array

    @property
    def __doc__(self) -> Any:  # type: ignore[override]
        return self._ask("getattr", name="__doc__")


class _RemoteIterator:
    __slots__ = ("_remote",)

    def __init__(self, remote: Remote) -> None:
        self._remote = remote

    def __iter__(self) -> _RemoteIterator:
        return self

    def __next__(self) -> Any:
        return self._remote._ask("next")
