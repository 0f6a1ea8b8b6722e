"""Plain values on the side channel: encoding (this module) and decoding (``decoding``).

Values are JSON types, tagged containers, numpy arrays as .npy (``allow_pickle=False``),
pandas objects by a typed encoding, and handles for everything else.

This module is self-contained (stdlib, plus numpy and pandas when already imported):
its source is also sent into the learner's kernel, where the same encoder answers.
"""

import datetime as _dt
import decimal as _decimal
import fractions as _fractions
import io as _io
import sys as _sys
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64

Node = Any
Fallback = Callable[[Any], Node]


def describe_exception(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data: its classes (module, name) and its message."""
    chain = []
    for klass in type(exc).__mro__:
        chain.append([str(getattr(klass, "__module__", "")), str(getattr(klass, "__name__", ""))])
    try:
        message = str(exc)[:2000]
    except BaseException:  # a learner's __str__ may raise anything
        message = "<unprintable exception>"
    return {"mro": chain[:50], "message": message}


# ---------------------------------------------------------------- encoding


def _numpy() -> Any:
    # Only a numpy the process already uses: the codec never imports it by itself.
    return _sys.modules.get("numpy")


def _pandas() -> Any:
    return _sys.modules.get("pandas")


def _npy(array: Any, bufs: list[bytes]) -> int:
    out = _io.BytesIO()
    _numpy().save(out, array, allow_pickle=False)
    bufs.append(out.getvalue())
    return len(bufs) - 1


def encode(value: Any, bufs: list[bytes], fallback: Fallback, depth: int = 0) -> Node:
    """Encode ``value``; ``fallback`` handles whatever is not plain data (or raises)."""
    if depth > MAX_DEPTH:
        raise ValueError("value is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    node = _encode_builtin(value, kind, bufs, fallback, depth + 1)
    if node is None:
        node = _encode_scientific(value, bufs, fallback, depth + 1)
    return fallback(value) if node is None else node


def _encode_builtin(value: Any, kind: type, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    def enc(item: Any) -> Node:
        return encode(item, bufs, fb, depth)

    if kind is list:
        return [enc(v) for v in value]
    if kind is tuple:
        return {"$": "t", "v": [enc(v) for v in value]}
    if kind is dict:
        return {"$": "d", "v": [[enc(k), enc(v)] for k, v in value.items()]}
    if kind in (set, frozenset):
        return {"$": "s" if kind is set else "fs", "v": [enc(v) for v in value]}
    if kind is complex:
        return {"$": "c", "v": [value.real, value.imag]}
    if kind in (bytes, bytearray):
        bufs.append(bytes(value))
        return {"$": "b", "i": len(bufs) - 1}
    if kind is slice:
        return {"$": "sl", "v": [enc(value.start), enc(value.stop), enc(value.step)]}
    if value is Ellipsis:
        return {"$": "el"}
    return _encode_stdlib_value(value, kind)


def _encode_stdlib_value(value: Any, kind: type) -> Node:
    if kind is _decimal.Decimal:
        return {"$": "dec", "v": str(value)}
    if kind is _fractions.Fraction:
        return {"$": "fr", "v": [str(value.numerator), str(value.denominator)]}
    if kind in (_dt.datetime, _dt.date, _dt.time):
        tag = {_dt.datetime: "dt", _dt.date: "da", _dt.time: "ti"}[kind]
        return {"$": tag, "v": value.isoformat()}
    if kind is _dt.timedelta:
        return {"$": "td", "v": [value.days, value.seconds, value.microseconds]}
    return None


def _encode_scientific(value: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    np = _numpy()
    if np is not None:
        if type(value) is np.ndarray:
            if value.dtype.kind == "O":
                flat = [encode(v, bufs, fb, depth) for v in value.ravel().tolist()]
                return {"$": "oa", "shape": list(value.shape), "v": flat}
            if value.dtype.kind != "V":
                return {"$": "nd", "i": _npy(value, bufs)}
        if isinstance(value, np.generic) and value.dtype.kind not in "OV":
            return {"$": "ns", "i": _npy(np.asarray(value), bufs)}
    pd = _pandas()
    if pd is not None:
        return _encode_pandas(pd, value, bufs, fb, depth)
    return None


def _encode_pandas(pd: Any, value: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    kind = type(value)
    if kind is pd.DataFrame:
        columns = [
            _encode_column(pd, value.iloc[:, i], bufs, fb, depth) for i in range(value.shape[1])
        ]
        return {
            "$": "df",
            "columns": _encode_index(pd, value.columns, bufs, fb, depth),
            "index": _encode_index(pd, value.index, bufs, fb, depth),
            "data": columns,
        }
    if kind is pd.Series:
        return {
            "$": "se",
            "name": encode(value.name, bufs, fb, depth),
            "index": _encode_index(pd, value.index, bufs, fb, depth),
            "data": _encode_column(pd, value, bufs, fb, depth),
        }
    if isinstance(value, pd.Index):
        return _encode_index(pd, value, bufs, fb, depth)
    if value is pd.NA:
        return {"$": "na"}
    if value is pd.NaT:
        return {"$": "nat"}
    if kind is pd.Timestamp:
        return {"$": "ts", "v": value.isoformat()}
    if kind is pd.Timedelta:
        return {"$": "tdl", "v": str(value.value)}
    return None


def _encode_index(pd: Any, index: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    if type(index) is pd.RangeIndex:
        return {
            "$": "ri",
            "v": [index.start, index.stop, index.step],
            "name": encode(index.name, bufs, fb, depth),
        }
    if type(index) is pd.MultiIndex:
        levels = [
            _encode_column(pd, index.get_level_values(i), bufs, fb, depth)
            for i in range(index.nlevels)
        ]
        return {
            "$": "mi",
            "levels": levels,
            "names": [encode(n, bufs, fb, depth) for n in index.names],
        }
    return {
        "$": "ix",
        "name": encode(index.name, bufs, fb, depth),
        "data": _encode_column(pd, index, bufs, fb, depth),
    }


def _encode_column(pd: Any, values: Any, bufs: list[bytes], fb: Fallback, depth: int) -> Node:
    np = _numpy()
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cat = values.array if isinstance(values, pd.Index) else values.cat
        return {
            "$": "cat",
            "codes": _npy(np.asarray(cat.codes), bufs),
            "ordered": dtype.ordered,
            "categories": _encode_index(pd, dtype.categories, bufs, fb, depth),
        }
    if isinstance(dtype, np.dtype) and dtype.kind not in "OV":
        return {"$": "npy", "i": _npy(np.asarray(values.to_numpy()), bufs)}
    items = [encode(v, bufs, fb, depth + 1) for v in values.tolist()]
    return {"$": "obj", "dtype": str(dtype), "v": items}
