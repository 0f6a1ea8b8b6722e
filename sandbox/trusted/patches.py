"""Library attributes a test patches, mirrored into the learner's kernel as under nbgrader.

A hidden test may forbid a library function (``np.linalg.solve = None``,
``setattr(math, "sqrt", None)``, ``del np.linalg.solve``, ``la.solve = None`` after
``import numpy.linalg as la``) and then call the learner's function: under nbgrader (one
process) a learner who calls it fails. Here a test's ``np`` is the trusted side's own copy,
so such writes are found in the test's code (an attribute rooted at a name, or
``setattr``/``delattr`` with a literal name), and before a request that may run the
learner's code, those whose owner is an allow-listed data module are set on the kernel's
module of the same name: a plain literal as itself, a function of the test's own as a
proxy that calls it here (see ``functions``), a library's public function as the kernel's
own copy, a deleted attribute as deleted. Only a module path, an attribute name and such a
value cross; never code, and nothing comes back.
The kernel puts its originals back when the run of tests ends; every run starts by
setting them again, so the patch holds for all later tests, as nbgrader's does.
"""

from __future__ import annotations

import ast
import math
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from .policy import library_reference, trusted_module_name

# Values that cross as themselves.
_LITERALS = (type(None), bool, int, float, str)
_MAX_TEXT = 1000
_MAX_WATCHED = 100
# The names test code is compiled under (child.py): a function from them is the test's.
TEST_SOURCES = frozenset({"<test>", "<instructor>"})

Chain = tuple[str, ...]  # ("np", "linalg", "solve")
Key = tuple[str, str]  # ("numpy.linalg", "solve")


class ModulePatches:
    """Attributes the tests write on library modules, and what the kernel was last told."""

    def __init__(self) -> None:
        # Written by the tests, owner not found yet: the module a test's import binds to the
        # chain's first name (it may be a local name), and whether a test deletes it.
        self.pending: dict[Chain, tuple[str | None, bool]] = {}
        self.found: dict[Chain, Key] = {}
        self.targets: dict[Key, tuple[types.ModuleType, bool]] = {}
        self.sent: dict[Key, Any] = {}
        # The last value seen on each attribute and whether it crosses: asked per request.
        self.judged: dict[Key, tuple[Any, bool]] = {}
        self.lookup: Callable[[str], Any] = lambda name: None

    def watch(self, tree: ast.AST) -> None:
        """Note the attributes a test's code writes or deletes."""
        imported = _imported_modules(tree)
        for chain, deletes in _writes(tree):
            key = self.found.get(chain)
            if key is not None:
                module, deleted = self.targets[key]
                self.targets[key] = (module, deleted or deletes)
            elif chain in self.pending or len(self.pending) + len(self.found) < _MAX_WATCHED:
                module_name, deleted = self.pending.get(chain, (None, False))
                self.pending[chain] = (imported.get(chain[0], module_name), deleted or deletes)

    def restart(self) -> None:
        """A new run of tests: the kernel put its originals back."""
        self.sent = {}

    def changed(self, encode: Callable[[Any, list[bytes]], Any], bufs: list[bytes]) -> Any:
        """``[module, attr, "set", value]`` to set, ``[module, attr, "del"]`` to delete,
        ``[module, attr]`` to put back; None when the kernel already has them all."""
        self.find_owners()
        now: dict[Key, Any] = {}
        for key, (module, deletes) in self.targets.items():
            state = self._patched(module, key, deletes)
            if state is not _UNPATCHED:
                now[key] = state
        if now.keys() == self.sent.keys() and all(_same(now[k], self.sent[k]) for k in now):
            return None
        entries: list[list[Any]] = []
        for (module_name, attr), state in now.items():
            if state is _DELETED:
                entries.append([module_name, attr, "del"])
            else:
                entries.append([module_name, attr, "set", encode(state, bufs)])
        entries += [
            [module_name, attr] for module_name, attr in self.sent if (module_name, attr) not in now
        ]
        self.sent = now
        return entries

    def _patched(self, module: types.ModuleType, key: Key, deletes: bool) -> Any:
        """What the kernel's ``module.attr`` must be: a value, _DELETED, or _UNPATCHED."""
        value = module.__dict__.get(key[1], _UNPATCHED)
        if value is _UNPATCHED:
            return _DELETED if deletes and not _provides(module, key[1]) else _UNPATCHED
        judged = self.judged.get(key)
        if judged is None or judged[0] is not value:
            judged = self.judged[key] = (value, _crosses(value, key))
        return value if judged[1] else _UNPATCHED

    def find_owners(self) -> None:
        """Which module each written attribute belongs to, while the test's names are
        known (a name read from the kernel is forgotten when the test ends)."""
        for chain, (module_name, deletes) in list(self.pending.items()):
            owner = self.lookup(chain[0])
            if not isinstance(owner, types.ModuleType) and module_name is not None:
                owner = sys.modules.get(module_name)
            for part in chain[1:-1]:
                if not isinstance(owner, types.ModuleType):
                    break
                owner = getattr(owner, part, None)
            if not isinstance(owner, types.ModuleType) or not trusted_module_name(owner.__name__):
                continue
            key = (owner.__name__, chain[-1])
            del self.pending[chain]
            self.found[chain] = key
            deleted = self.targets.get(key, (owner, False))[1]
            self.targets[key] = (owner, deleted or deletes)


_UNPATCHED = object()
_DELETED = object()  # the test deleted it: the kernel deletes its own


def _provides(module: types.ModuleType, attr: str) -> bool:
    """Whether the module still gives ``attr`` (a lazy one, from its ``__getattr__``)."""
    try:
        getattr(module, attr)
    except AttributeError:
        return False
    except Exception:
        return True
    return True


def _crosses(value: Any, key: Key) -> bool:
    if type(value) in _LITERALS:
        return _plain(value)
    if isinstance(value, types.FunctionType):
        # Only the test's own: a library's private function would become a proxy.
        return value.__code__.co_filename in TEST_SOURCES
    reference = library_reference(value)
    # The module's own function is no patch (a test that put it back).
    return reference is not None and reference != list(key)


def _same(now: Any, sent: Any) -> bool:
    return now is sent or (type(now) is type(sent) and type(now) in _LITERALS and now == sent)


def _writes(tree: ast.AST) -> Iterator[tuple[Chain, bool]]:
    """``(chain, deletes)`` for each ``a.b.c = ...``, ``del a.b.c``, ``setattr(a.b, "c",
    ...)`` and ``delattr(a.b, "c")`` in the code."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call):
            chain = _named_attribute(node)
            if chain is not None:
                yield chain, node.func.id == "delattr"  # type: ignore[attr-defined]
            continue
        else:
            continue
        for target in _unpacked(targets):
            if isinstance(target, ast.Attribute):
                chain = _names(target)
                if chain is not None and _public(chain[-1]):
                    yield chain, isinstance(node, ast.Delete)


def _named_attribute(call: ast.Call) -> Chain | None:
    if not isinstance(call.func, ast.Name) or call.func.id not in ("setattr", "delattr"):
        return None
    if len(call.args) < 2 or not isinstance(call.args[1], ast.Constant):
        return None
    owner, attr = _names(call.args[0]), call.args[1].value
    if owner is None or type(attr) is not str or not _public(attr):
        return None
    return (*owner, attr)


def _unpacked(targets: list[ast.expr]) -> Iterator[ast.expr]:
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            yield from _unpacked(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _unpacked([target.value])
        else:
            yield target


def _names(node: ast.expr) -> Chain | None:
    """``("np", "linalg")`` for ``np.linalg``; None for anything not rooted at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id, *reversed(parts)) if isinstance(node, ast.Name) else None


def _public(attr: str) -> bool:
    return attr.isidentifier() and not attr.startswith("__")


def _imported_modules(tree: ast.AST) -> dict[str, str]:
    """The module each name may be bound to by the code's imports, local ones included."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    names[alias.asname] = alias.name
                else:
                    names[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return len(value) <= _MAX_TEXT
    if kind is int:
        return abs(value) < 2**53
    return kind is not float or math.isfinite(value)
