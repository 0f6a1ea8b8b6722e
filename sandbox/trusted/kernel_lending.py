"""Kernel side of lent names: the test's top-level names that the learner's code reads as
globals (the trusted side is ``namespace``).

Sent into the learner's kernel as part of the helper's source (see ``kernel_helper``).
Before learner code runs, the names that code (and the learner's functions it names) may
read are pulled from the trusted side, if the test lends them; the kernel's own values are
put back when the tests end.
"""

import types
from collections.abc import Callable
from typing import Any


class LentNames:
    """The test's names written into the learner's namespace, and the kernel's own values."""

    def __init__(self, ns: dict[str, Any]) -> None:
        self.ns = ns
        # The version of each lent name written here, and the kernel's own value
        # (present, value) to put back when the tests end.
        self.synced: dict[str, Any] = {}
        self.saved: dict[str, tuple[bool, Any]] = {}
        self.references: dict[tuple[int, ...], Any] = {}

    def borrow(self, lent: Any, target: Any, pull: Callable[[list[str]], Any]) -> None:
        """Before learner code runs: ``pull`` the test's names that this code mentions."""
        if type(lent) is not dict:
            return
        for name in [n for n in self.synced if n not in lent]:
            self.give_back(name)  # the test deleted it
        if not lent:
            return
        wanted = [
            n for n in self._names_used_by(target) if n in lent and self.synced.get(n) != lent[n]
        ]
        if not wanted:
            return
        values = pull(wanted)
        for name in wanted:
            self.synced[name] = lent[name]
            if type(values) is dict and name in values:
                if name not in self.saved:
                    self.saved[name] = (name in self.ns, self.ns.get(name))
                self.ns[name] = values[name]

    def give_back(self, name: str) -> None:
        self.synced.pop(name, None)
        if name in self.saved:
            present, value = self.saved.pop(name)
            if present:
                self.ns[name] = value
            else:
                self.ns.pop(name, None)

    def give_all_back(self) -> None:
        for name in list(self.saved):
            self.give_back(name)

    def keep(self, name: str) -> None:
        """The test wrote ``name`` for good (a learner object, or ``del``)."""
        self.synced.pop(name, None)
        self.saved.pop(name, None)

    def _names_used_by(self, target: Any) -> frozenset[str]:
        codes = _codes_of(target)
        if not codes:
            return frozenset()
        key = tuple(id(c) for c in codes)
        cached = self.references.get(key)
        if cached is None or cached[0] != codes:  # the codes are kept: ids stay theirs
            cached = self.references[key] = (codes, _global_names(codes, self.ns))
        return cached[1]


def _codes_of(value: Any) -> list[Any]:
    """The code that calling or using ``value`` runs: a function's, a class's methods'."""
    for _ in range(5):
        if isinstance(value, types.MethodType):
            value = value.__func__
        elif isinstance(value, types.FunctionType):
            return [value.__code__]
        elif isinstance(value, types.GeneratorType):
            return [value.gi_code]
        elif type(value).__name__ == "partial" and hasattr(value, "func"):
            value = value.func
        elif isinstance(value, type):
            return [v.__code__ for v in vars(value).values() if isinstance(v, types.FunctionType)]
        else:
            value = type(value)
    return []


def _global_names(codes: list[Any], ns: dict[str, Any], limit: int = 500) -> frozenset[str]:
    """Names the code (and the learner's functions and classes it names) may read."""
    names: set[str] = set()
    seen: set[int] = set()
    todo = list(codes)
    while todo and len(seen) < limit:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        names.update(current.co_names)
        todo.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
        for name in current.co_names:
            value = ns.get(name)
            if isinstance(value, (types.FunctionType, type)) and getattr(
                value, "__module__", None
            ) == ns.get("__name__"):
                todo.extend(_codes_of(value))
    return frozenset(names)
