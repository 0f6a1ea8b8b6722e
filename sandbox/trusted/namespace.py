"""The test code's globals, and the names a test lends to the learner's functions.

Test code runs with these globals: the test's own names, then trusted builtins, then the
kernel. Names a test binds at its top level (``A = np.asarray(...)``) are also what a
learner's function may read as a global, as in an in-kernel run; they are lent only on
demand: when the kernel is about to run learner code that names one of them, it pulls
that name's value (plain data, or a test function). Names no learner code mentions never
cross, so a learner cannot sweep the namespace for the test's expected values. The kernel
puts its own values back when the tests end.
"""

from __future__ import annotations

import builtins
from typing import Any

from .link import KernelLink
from .remote import Remote


class TestGlobals(dict[str, Any]):
    """Globals for test code: the test's own names, then trusted builtins, then the kernel.

    A dict subclass with ``__missing__`` (not a locals mapping) is what makes names inside
    functions, lambdas and generator expressions resolve too. Top-level ``name = handle``
    and ``del name`` are written through to the kernel at once; other values the test
    binds while ``lending`` is on are lent on demand (see the module's docstring).
    """

    __test__ = False  # not a pytest class

    def __init__(self, link: KernelLink) -> None:
        super().__init__(__name__="__main__", __builtins__=builtins)
        self.link = link
        link.lend = self._lend
        link.patches.lookup = self._bound
        self.lending = False
        self._versions = 0
        # A name read again before anything else was asked of the kernel cannot have
        # changed: `df` twice in one assert crosses once.
        self._resolved: dict[str, tuple[int, Any]] = {}

    def forget_resolved(self) -> None:
        self._resolved.clear()

    def __missing__(self, name: str) -> Any:
        if name in builtins.__dict__:
            return builtins.__dict__[name]
        cached = self._resolved.get(name)
        if cached is not None and cached[0] == self.link.generation:
            return cached[1]
        try:
            value = self.link.request("resolve", name=name)
        except NameError:
            raise KeyError(name) from None
        self._resolved[name] = (self.link.generation, value)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, Remote):
            dict.pop(self, name, None)
            self.link.lent.pop(name, None)
            self.link.request("setglobal", value, name=name)
            return
        dict.__setitem__(self, name, value)
        if self.lending and not name.startswith("__"):
            self._versions += 1
            self.link.lent[name] = self._versions

    def __delitem__(self, name: str) -> None:
        if dict.__contains__(self, name):
            dict.__delitem__(self, name)
            self.link.lent.pop(name, None)
            return
        try:
            self.link.request("delglobal", name=name)
        except NameError:
            raise KeyError(name) from None

    def _bound(self, name: str) -> Any:
        """What ``name`` is bound to here, without asking the kernel."""
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        cached = self._resolved.get(name)
        return None if cached is None else cached[1]

    def _lend(self, names: Any, bufs: list[bytes]) -> dict[str, Any]:
        """The kernel's pull: the values of those of ``names`` the test lends, each that
        can cross (a value that cannot, say a test's class instance, stays here)."""
        pairs = []
        for name in names if type(names) is list else []:
            if type(name) is str and name in self.link.lent and dict.__contains__(self, name):
                try:
                    pairs.append([name, self.link.encode(dict.__getitem__(self, name), bufs)])
                except (TypeError, ValueError):
                    continue
        return {"lent": {"$": "d", "v": pairs}}
