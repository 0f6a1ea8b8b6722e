"""What the trusted side takes as its own instead of the learner's: data libraries' modules
and functions, assert helpers, and exception types (only a type and a message cross).
"""

from __future__ import annotations

import builtins
import importlib
from typing import Any

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
    return [module, qualname] if _resolve(module, qualname) is function else None


_MISSING = object()


def _resolve(module: str, qualname: str) -> Any:
    """This process's own ``module.qualname``, or _MISSING."""
    try:
        value: Any = importlib.import_module(module)
        for part in qualname.split("."):
            value = getattr(value, part)
    except Exception:
        return _MISSING
    return value


def trusted_helper_name(module: str, qualname: str) -> bool:
    if module == "numpy":
        return qualname in NUMPY_HELPERS
    return any(module == m or module.startswith(m + ".") for m in HELPER_MODULES)


NEVER_CROSS = frozenset({"SystemExit", "KeyboardInterrupt", "GeneratorExit"})
# Raised by a call, these would silently end the test's own loops (``all(map(f, xs))``).
ONLY_FROM_NEXT = frozenset({"StopIteration", "StopAsyncIteration"})


def trusted_object(module_name: str, qualname: str) -> Any:
    """The trusted side's own ``module.qualname`` (a plain function), if there is one."""
    if not trusted_helper_name(module_name, qualname) or "<" in qualname:
        return None
    value = _resolve(module_name, qualname)
    # numpy's functions are dispatcher objects, not FunctionType; classes are never wanted.
    return value if callable(value) and not isinstance(value, type) else None


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
