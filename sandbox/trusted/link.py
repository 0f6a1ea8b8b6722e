"""The trusted side's link to the learner's kernel: requests, their answers, and the test's
functions that the learner's code calls meanwhile.

Requests are strictly sequential. Answers are decoded strictly: the learner's values
arrive as plain data, or as ``Remote`` handles (see ``remote``).
What the learner's code printed meanwhile comes with an answer as a bounded string and is
printed here, in order, where the test's own output goes (see ``printed``).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import socket
import sys
from collections.abc import Callable
from typing import Any

from .codec import encode
from .decoding import Decoder
from .frames import ProtocolError, recv_frame, send_frame
from .functions import TestFunctions
from .patches import ModulePatches
from .policy import (
    learner_error,
    library_reference,
    rebuild_exception,
    trusted_module_name,
    trusted_object,
)
from .printed import PRINTED_CUT, PRINTED_LIMIT, SILENT_OPS
from .remote import Remote
from .streams import RandomStreams

# What the learner's code may print during one test, all requests together: the rest is cut.
PRINTED_PER_TEST = 50 * PRINTED_LIMIT

# Requests that may run the learner's code: they say which names the test lends.
RUNS_LEARNER_CODE = frozenset(
    {"call", "getattr", "setattr", "getitem", "setitem", "len", "iter", "next", "repr", "str"}
)


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
        self.printed_room = PRINTED_PER_TEST
        self.streams = RandomStreams()  # what the kernel's random streams were last set to
        self.patches = ModulePatches()  # library attributes the tests overwrote

    def start_test(self) -> None:
        """A test starts: what the learner's code may print is counted afresh."""
        self.printed_room = PRINTED_PER_TEST

    def attach(self, sock: socket.socket) -> None:
        sock.settimeout(self.timeout_s)
        self.sock, self.broken = sock, None
        self.generation += 1  # answer cells ran in between
        self.patches.restart()

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
            streams = self.streams.changed(bufs)
            if streams is not None:
                header["rng"] = streams
            patches = self.patches.changed(self.encode, bufs)
            if patches is not None:
                header["patch"] = patches
        try:
            send_frame(self.sock, header, bufs)
            reply, rbufs = self._receive(self.sock, op)
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

    def _receive(self, sock: socket.socket, op: str) -> tuple[dict[str, Any], list[bytes]]:
        """The answer to the request just sent, running the test's functions that the
        learner's code calls meanwhile (they may make requests of their own)."""
        while True:
            reply, bufs = recv_frame(sock)
            if "out" in reply:
                if op in SILENT_OPS:
                    raise ProtocolError("printed output where no code of the learner ran")
                self._print(reply["out"])
            if "cb" in reply or reply.get("$fast") == "call":
                answer, out = self.functions.run(reply, bufs, self)
            elif "pull" in reply and self.lend is not None:
                out = []
                answer = self.lend(reply["pull"], out)
            else:
                return reply, bufs
            send_frame(sock, answer, out)

    def _print(self, text: Any) -> None:
        """Print here what the learner's code printed in the kernel, in order, where the
        test's own output goes (a doctest compares it). Only a string crosses."""
        if type(text) is not str or not 0 < len(text) <= PRINTED_LIMIT:
            raise ProtocolError("malformed printed output")
        if self.printed_room <= 0:
            return
        shown = text[: self.printed_room]
        self.printed_room -= len(text)
        sys.stdout.write(shown if self.printed_room >= 0 else shown + PRINTED_CUT)

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
