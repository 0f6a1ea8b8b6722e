"""Library attributes a test patches, mirrored into the learner's kernel as under nbgrader.

A hidden test may forbid a library function by overwriting it (``np.linalg.solve = None``)
and then call the learner's function: under nbgrader (one process) a learner who calls it
fails. Here a test's ``np`` is the trusted side's own copy, so such assignments are found
in the test's code (an attribute target rooted at a name), and before a request that may
run the learner's code, those whose owner is an allow-listed data module and whose value
is None or a plain literal are set on the kernel's module of the same name. Only a module
path, an attribute name and a literal cross; never code, never the other way.
The kernel puts its originals back when the run of tests ends; every run starts by
setting them again, so the patch holds for all later tests, as nbgrader's does.
"""

from __future__ import annotations

import ast
import math
import types
from collections.abc import Callable
from typing import Any

from .policy import trusted_module_name

# Values that may cross: plain literals only (a function would be code).
_LITERALS = (type(None), bool, int, float, str)
_MAX_TEXT = 1000
_MAX_WATCHED = 100


class ModulePatches:
    """Attribute assignments the tests made, and what the kernel was last told of them."""

    def __init__(self) -> None:
        self.watched: dict[tuple[str, ...], None] = {}  # ("np", "linalg", "solve")
        self.sent: dict[tuple[str, str], Any] = {}
        self.lookup: Callable[[str], Any] = lambda name: None

    def watch(self, tree: ast.AST) -> None:
        """Note the ``name.attr... = value`` targets in a test's code."""
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                chain = _chain(target)
                if chain is not None and len(self.watched) < _MAX_WATCHED:
                    self.watched[chain] = None

    def restart(self) -> None:
        """A new run of tests: the kernel put its originals back."""
        self.sent = {}

    def changed(self) -> list[list[Any]] | None:
        """``[module, attr, value]`` to set, ``[module, attr]`` to put back; None when the
        kernel already has them all."""
        now: dict[tuple[str, str], Any] = {}
        for chain in self.watched:
            found = self._patched(chain)
            if found is not None:
                now[found[0]] = found[1]
        if now == self.sent:
            return None
        entries = [[module, attr, value] for (module, attr), value in now.items()]
        entries += [[module, attr] for module, attr in self.sent if (module, attr) not in now]
        self.sent = now
        return entries

    def _patched(self, chain: tuple[str, ...]) -> tuple[tuple[str, str], Any] | None:
        owner = self.lookup(chain[0])
        for part in chain[1:-1]:
            if not isinstance(owner, types.ModuleType):
                return None
            owner = getattr(owner, part, None)
        if not isinstance(owner, types.ModuleType) or not trusted_module_name(owner.__name__):
            return None
        value = owner.__dict__.get(chain[-1], ...)
        if not _plain(value):
            return None
        return (owner.__name__, chain[-1]), value


def _chain(target: ast.AST) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if not isinstance(target, ast.Name) or not parts or parts[0].startswith("__"):
        return None
    return (target.id, *reversed(parts))


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind not in _LITERALS:
        return False
    if kind is str:
        return len(value) <= _MAX_TEXT
    if kind is int:
        return abs(value) < 2**53
    return kind is not float or math.isfinite(value)
