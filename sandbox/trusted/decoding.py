"""Decoding plain values strictly: the decoder builds only genuine builtin, numpy and pandas
objects, so nothing the other side sends can carry behaviour into this process.

Self-contained like ``codec`` (its source is sent into the kernel after the codec's).
"""

import contextlib as _contextlib
import datetime as _dt
import decimal as _decimal
import fractions as _fractions
import io as _io
import sys as _sys
from collections.abc import Callable
from typing import Any

# Imported as part of the package (lint, tests); in the kernel the sources before this one
# define these names and there is no package to import from.
with _contextlib.suppress(ImportError):
    from .codec import MAX_DEPTH, Node
    from .frames import ProtocolError


class Decoder:
    """Builds plain values from nodes; handles and modules go to the given callbacks."""

    def __init__(
        self,
        *,
        on_handle: Callable[[dict[str, Any]], Any],
        on_module: Callable[[dict[str, Any]], Any],
        on_callback: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self._on_handle = on_handle
        self._on_module = on_module
        self._on_callback = on_callback

    def decode(self, node: Node, bufs: list[bytes], depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.decode(v, bufs, depth + 1) for v in node]
        if type(node) is not dict or type(node.get("$")) is not str:
            raise ProtocolError("malformed value")
        method = getattr(self, "_tag_" + node["$"], None)
        if method is None:
            raise ProtocolError("unknown value tag")
        try:
            return method(node, bufs, depth + 1)
        except ProtocolError:
            raise
        except Exception as exc:
            raise ProtocolError(f"bad {node['$']!r} value: {exc}") from exc

    def _items(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> list[Any]:
        if type(node["v"]) is not list:
            raise ProtocolError("malformed container")
        return [self.decode(v, bufs, depth) for v in node["v"]]

    def _tag_t(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> tuple[Any, ...]:
        return tuple(self._items(node, bufs, depth))

    def _tag_d(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> dict[Any, Any]:
        pairs = self._items(node, bufs, depth)
        if any(type(p) is not list or len(p) != 2 for p in pairs):
            raise ProtocolError("malformed dict")
        return {_plain_key(k): v for k, v in pairs}

    def _tag_s(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> set[Any]:
        return {_plain_key(v) for v in self._items(node, bufs, depth)}

    def _tag_fs(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> frozenset[Any]:
        return frozenset(self._tag_s(node, bufs, depth))

    def _tag_c(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> complex:
        real, imag = node["v"]
        return complex(_number(real), _number(imag))

    def _tag_b(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> bytes:
        return bufs[_index(node["i"])]

    def _tag_sl(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> slice:
        start, stop, step = self._items(node, bufs, depth)
        return slice(start, stop, step)

    def _tag_el(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return Ellipsis

    def _tag_dec(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _decimal.Decimal(_text(node["v"]))

    def _tag_fr(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        num, den = node["v"]
        return _fractions.Fraction(int(_text(num)), int(_text(den)))

    def _tag_dt(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _dt.datetime.fromisoformat(_text(node["v"]))

    def _tag_da(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _dt.date.fromisoformat(_text(node["v"]))

    def _tag_ti(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _dt.time.fromisoformat(_text(node["v"]))

    def _tag_td(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        days, seconds, micro = (_integer(v) for v in node["v"])
        return _dt.timedelta(days=days, seconds=seconds, microseconds=micro)

    def _tag_h(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        _integer(node["id"])
        return self._on_handle(node)

    def _tag_m(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        _text(node["name"])
        return self._on_module(node)

    def _tag_cb(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        # A test's function: the trusted side keeps it, the kernel gets something to call.
        _integer(node["id"])
        if self._on_callback is None:
            raise ProtocolError("unexpected test function")
        return self._on_callback(node)

    # numpy and pandas: only when this process has them.
    def _load_npy(self, index: Any, bufs: list[bytes]) -> Any:
        np = _require("numpy")
        array = np.load(_io.BytesIO(bufs[_index(index)]), allow_pickle=False)
        if type(array) is not np.ndarray or array.dtype.kind in "OV":
            raise ProtocolError("not a plain array")
        return array

    def _tag_nd(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return self._load_npy(node["i"], bufs)

    def _tag_ns(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        array = self._load_npy(node["i"], bufs)
        if array.ndim != 0:
            raise ProtocolError("scalar is not 0-d")
        return array[()]

    def _tag_oa(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        np = _require("numpy")
        items = self._items(node, bufs, depth)
        shape = tuple(_integer(n) for n in node["shape"])
        array = np.empty(len(items), dtype=object)
        array[:] = items
        return array.reshape(shape)

    def _tag_na(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").NA

    def _tag_nat(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").NaT

    def _tag_ts(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").Timestamp(_text(node["v"]))

    def _tag_tdl(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return _require("pandas").Timedelta(int(_text(node["v"])), unit="ns")

    def _tag_df(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        index = self._index(node["index"], bufs, depth)
        columns = self._index(node["columns"], bufs, depth)
        data = [self._column(c, bufs, depth) for c in _list(node["data"])]
        frame = pd.DataFrame(dict(enumerate(data)), index=index)
        frame.columns = columns
        return frame

    def _tag_se(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        name = _plain_key(self.decode(node["name"], bufs, depth))
        index = self._index(node["index"], bufs, depth)
        return pd.Series(self._column(node["data"], bufs, depth), index=index, name=name)

    def _tag_ri(self, node: dict[str, Any], bufs: list[bytes], depth: int) -> Any:
        return self._index(node, bufs, depth)

    _tag_mi = _tag_ix = _tag_ri

    def _index(self, node: Any, bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        tag = node.get("$") if type(node) is dict else None
        if tag == "ri":
            start, stop, step = (_integer(v) for v in node["v"])
            name = _plain_key(self.decode(node["name"], bufs, depth))
            return pd.RangeIndex(start, stop, step, name=name)
        if tag == "mi":
            levels = [self._column(c, bufs, depth) for c in _list(node["levels"])]
            names = [_plain_key(self.decode(n, bufs, depth)) for n in _list(node["names"])]
            return pd.MultiIndex.from_arrays(levels, names=names)
        if tag == "ix":
            name = _plain_key(self.decode(node["name"], bufs, depth))
            return pd.Index(self._column(node["data"], bufs, depth), name=name)
        raise ProtocolError("malformed index")

    def _column(self, node: Any, bufs: list[bytes], depth: int) -> Any:
        pd = _require("pandas")
        tag = node.get("$") if type(node) is dict else None
        if tag == "npy":
            return self._load_npy(node["i"], bufs)
        if tag == "cat":
            categories = self._index(node["categories"], bufs, depth)
            codes = self._load_npy(node["codes"], bufs)
            return pd.Categorical.from_codes(
                codes, categories=categories, ordered=node["ordered"] is True
            )
        if tag == "obj":
            items = self._items(node, bufs, depth)
            dtype = _text(node["dtype"])
            if dtype == "object":
                array = _require("numpy").empty(len(items), dtype=object)
                array[:] = items
                return array
            # A dtype name is parsed, never evaluated: pandas_dtype only looks names up.
            return pd.array(items, dtype=pd.api.types.pandas_dtype(dtype))
        raise ProtocolError("malformed column")


def _require(name: str) -> Any:
    module = _sys.modules.get(name)
    if module is None:
        __import__(name)
        module = _sys.modules[name]
    return module


def _plain_key(value: Any) -> Any:
    hash(value)  # decoded values are genuine builtins: hashing them runs no foreign code
    return value


def _index(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ProtocolError("bad buffer index")
    return value


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise ProtocolError("expected an integer")
    return value


def _number(value: Any) -> float:
    if type(value) not in (int, float):
        raise ProtocolError("expected a number")
    return float(value)


def _text(value: Any) -> str:
    if type(value) is not str or len(value) > 10_000:
        raise ProtocolError("expected a short string")
    return value


def _list(value: Any) -> list[Any]:
    if type(value) is not list:
        raise ProtocolError("expected a list")
    return value
