"""A test's own functions, passed to the learner's code: they stay on the trusted side.

The kernel gets a proxy that knows only a number. When learner code calls it, the
arguments cross as plain data (the learner's objects as handles), the function runs
here, and only its result (plain data, handles, other test functions) or its exception
(type and message) goes back. The learner can call the function, never read its code,
its globals or its closure.
"""

from __future__ import annotations

from typing import Any, Protocol

from .codec import describe_exception
from .decoding import Decoder
from .frames import ProtocolError, fast_frame


class KernelLink(Protocol):
    """What running a test function needs of the link to the kernel (sandbox.trusted.remote
    implements it; named here so that neither module imports the other's)."""

    depth: int
    broken: Any

    @property
    def decoder(self) -> Decoder: ...

    def encode(self, value: Any, bufs: list[bytes]) -> Any: ...


# Test function -> learner code -> test function ... each level holds frames on both
# sides; far below Python's own recursion limit, so the limit is a clear message.
MAX_DEPTH = 50


class TestFunctions:
    """The functions a test handed to the kernel during one submission, by number."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self._by_number: dict[int, Any] = {}
        # Keyed by id(): the table keeps each function alive, so an id is never reused.
        self._numbers: dict[int, int] = {}

    def node(self, function: Any, reference: list[str] | None = None) -> dict[str, Any]:
        """How the kernel gets ``function``: a number to call back, and for a library's
        public function (``reference``) where the kernel finds its own copy."""
        number = self._numbers.get(id(function))
        if number is None:
            number = len(self._by_number) + 1
            self._by_number[number] = function
            self._numbers[id(function)] = number
        name = getattr(function, "__name__", None)
        node = {"$": "cb", "id": number, "name": name[:100] if type(name) is str else "function"}
        if reference is not None:
            node["ref"] = reference
        return node

    def lookup(self, node: dict[str, Any]) -> Any:
        """The function behind a proxy the kernel sends back (only ones handed out)."""
        function = self._by_number.get(node["id"])
        if function is None:
            raise ProtocolError("unknown test function")
        return function

    def run(
        self, request: dict[str, Any], bufs: list[bytes], link: KernelLink
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Answer the kernel's call of a test function: its result or its exception.

        Only ``Exception`` becomes an answer: the test's time running out, or a broken
        link, ends the whole request instead of letting the learner's code catch it.
        """
        fast = request.get("$fast") == "call"
        number = request["id"] if fast else request["cb"]
        function = self._by_number.get(number) if type(number) is int else None
        if function is None or (fast and type(request["v"]) is not tuple):
            raise ProtocolError("unknown test function" if function is None else "bad arguments")
        keywords: dict[str, Any]
        try:
            if fast:
                positional, keywords = list(request["v"]), {}
            else:
                positional, keywords = _arguments(link.decoder.decode(request.get("args"), bufs))
            if link.depth >= MAX_DEPTH:
                raise RecursionError("your code and the test's function call each other too deeply")
            link.depth += 1
            try:
                value = function(*positional, **keywords)
            finally:
                link.depth -= 1
            numbers = fast_frame("ok", number, value)
            if numbers is not None:
                return numbers, []
            out: list[bytes] = []
            return {"cbok": link.encode(value, out)}, out
        except Exception as exc:
            if link.broken:
                raise
            return {"cberr": describe_exception(exc)}, []


def _arguments(args: Any) -> tuple[list[Any], dict[str, Any]]:
    if type(args) is not list or len(args) != 2:
        raise ProtocolError("malformed arguments")
    positional, keywords = args
    if type(positional) is not list or type(keywords) is not dict:
        raise ProtocolError("malformed arguments")
    if not all(type(k) is str for k in keywords):
        raise ProtocolError("malformed keyword arguments")
    return positional, keywords
