"""Handles to the learner's objects, as test code sees them.

Calls, attribute and item access, ``len``, iteration, ``repr`` and ``__array__`` go to the
kernel; ``==``, ordering, ``hash``, ``bool``, arithmetic and ``in`` never do, so a learner
object cannot lie its way through a comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from .policy import learner_error


class Requester(Protocol):
    """What a handle needs of the link to the kernel (``sandbox.trusted.link`` implements it;
    named here so that neither module imports the other's)."""

    def request(self, op: str, *args: Any, **fields: Any) -> Any: ...


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


class Remote:
    """A handle to an object living in the learner's kernel."""

    __slots__ = ("_id", "_link", "_type")

    def __init__(self, link: Requester, handle: int, type_name: str) -> None:
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
